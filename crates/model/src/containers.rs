//! The names container runtimes give their containers, by container id,
//! and the Kubernetes pods by UID: what turns `docker-3f4e1c9a2b7d….scope`
//! into `shop-db-1` and `pod6f1c2a3b_…` into `shop/web-7d9f`.
//!
//! Read from the runtimes' own files ([`KernelRoot::runtime_names`]); a
//! runtime that is not installed, or files this user may not read, simply
//! name nothing.

use std::collections::BTreeMap;

use memscope_kernel::{KernelRoot, ReadError};
use serde::{Deserialize, Serialize};

/// What the runtimes say about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerName {
    /// The runtime whose files named it: `docker`, `containerd`, `cri-o`,
    /// `containers-storage` (podman, CRI-O).
    pub runtime: String,
    /// The container's name (its name in its pod for Kubernetes; `POD` for
    /// a pod's sandbox).
    pub name: Option<String>,
    /// The image.
    pub image: Option<String>,
    /// The Kubernetes pod's name.
    pub pod: Option<String>,
    /// The Kubernetes pod's namespace.
    pub namespace: Option<String>,
    /// The Kubernetes pod's UID.
    pub pod_uid: Option<String>,
}

/// A Kubernetes pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRef {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
}

/// Container names by id and pods by UID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerNames {
    /// Container id (as the runtime spells it, 64 hex digits) → names.
    pub containers: BTreeMap<String, ContainerName>,
    /// Pod UID (with `-`) → namespace and name.
    pub pods: BTreeMap<String, PodRef>,
    /// Runtime files that exist but could not be read or parsed.
    pub errors: Vec<ReadError>,
}

/// Read every runtime's names. Where two runtimes know one container (a
/// Docker container is also a containerd task), the fields the first
/// leaves empty are taken from the next.
pub fn read(root: &KernelRoot) -> ContainerNames {
    let found = root.runtime_names();
    let mut out = ContainerNames { errors: found.errors, ..ContainerNames::default() };
    for (runtime, n) in found.containers {
        let e = out
            .containers
            .entry(n.id.clone())
            .or_insert_with(|| ContainerName { runtime, ..ContainerName::default() });
        e.name = e.name.take().or(n.name);
        e.image = e.image.take().or(n.image);
        e.pod = e.pod.take().or(n.pod);
        e.namespace = e.namespace.take().or(n.namespace);
        e.pod_uid = e.pod_uid.take().or(n.pod_uid);
    }
    for p in found.pods {
        out.pods.insert(p.uid, PodRef { namespace: p.namespace, name: p.name });
    }
    // Containers name their pods too (where the kubelet's log directories
    // are unreadable).
    for c in out.containers.values() {
        if let (Some(uid), Some(ns), Some(pod)) = (&c.pod_uid, &c.namespace, &c.pod) {
            out.pods
                .entry(uid.clone())
                .or_insert_with(|| PodRef { namespace: ns.clone(), name: pod.clone() });
        }
    }
    out
}
