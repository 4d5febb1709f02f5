//! Which container a process belongs to, from its cgroup path and its
//! namespaces.
//!
//! A container is not a kernel object: runtimes put each container's
//! processes in a cgroup of their own and in new namespaces. So:
//!
//! 1. a cgroup path a runtime is known to create names the container
//!    ([`runtime_of`]): Docker, Podman, containerd and CRI-O (Kubernetes),
//!    LXC, systemd-nspawn and other systemd machines;
//! 2. otherwise a process whose namespaces differ from the host's (pid 1's)
//!    is in an unnamed container, told apart by its cgroup path and
//!    namespace ids (a `unshare`, bubblewrap or Flatpak sandbox);
//! 3. everything else is the host.
//!
//! Cgroup paths as the runtimes write them (cgroupfs and systemd drivers):
//! ```text
//! /docker/<64 hex>                                         docker, cgroupfs driver
//! /system.slice/docker-<64 hex>.scope                      docker, systemd driver
//! /machine.slice/libpod-<64 hex>.scope[/container]         podman
//! /kubepods/burstable/pod<uid>/<64 hex>                    kubernetes, cgroupfs driver
//! /kubepods.slice/…/cri-containerd-<64 hex>.scope          containerd, systemd driver
//! /kubepods.slice/…/crio-<64 hex>.scope                    CRI-O
//! /lxc/<name>, /lxc.payload.<name>                         LXC
//! /machine.slice/machine-<name>.scope                      systemd-nspawn, libvirt
//! ```

use memscope_model::containers::ContainerNames;
use serde::Serialize;

/// A container recognised from a cgroup path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeContainer {
    /// `docker`, `podman`, `containerd`, `cri-o`, `kubernetes`, `lxc`,
    /// `systemd-machine`.
    pub runtime: &'static str,
    /// The container id (64 hex digits) or name, as the path shows it.
    pub id: String,
    /// What to call it: the name where the path has one, else the id's
    /// first 12 digits (as `docker ps` shows it).
    pub name: String,
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// Undo systemd's unit-name escaping of `-` and other bytes (`\x2d`).
fn unescape_systemd(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) if b.is_ascii() => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            _ => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The container a cgroup path belongs to, if a known runtime made it.
/// The innermost match wins (a container inside a Kubernetes pod is the
/// container, not the pod).
pub fn runtime_of(cgroup_path: &str) -> Option<RuntimeContainer> {
    let parts: Vec<&str> = cgroup_path.split('/').filter(|p| !p.is_empty()).collect();
    let mut found: Option<RuntimeContainer> = None;
    for (i, part) in parts.iter().enumerate() {
        let prev = if i > 0 { Some(parts[i - 1]) } else { None };
        let scoped = |prefix: &str| -> Option<String> {
            let id = part.strip_prefix(prefix)?.strip_suffix(".scope")?;
            is_hex_id(id).then(|| id.to_string())
        };
        let hit = if let Some(id) = scoped("docker-") {
            Some(("docker", id.clone(), short(&id)))
        } else if let Some(id) = scoped("libpod-") {
            Some(("podman", id.clone(), short(&id)))
        } else if let Some(id) = scoped("cri-containerd-") {
            Some(("containerd", id.clone(), short(&id)))
        } else if let Some(id) = scoped("crio-") {
            Some(("cri-o", id.clone(), short(&id)))
        } else if prev == Some("docker") && is_hex_id(part) {
            Some(("docker", part.to_string(), short(part)))
        } else if prev.is_some_and(|p| p.starts_with("pod")) && is_hex_id(part) {
            Some(("kubernetes", part.to_string(), short(part)))
        } else if prev == Some("lxc") && !part.starts_with("lxc.") {
            Some(("lxc", part.to_string(), part.to_string()))
        } else if let Some(name) = part.strip_prefix("lxc.payload.") {
            Some(("lxc", name.to_string(), name.to_string()))
        } else if let Some(name) = part.strip_prefix("machine-").and_then(|n| n.strip_suffix(".scope")) {
            let name = unescape_systemd(name);
            Some(("systemd-machine", name.clone(), name))
        } else {
            None
        };
        if let Some((runtime, id, name)) = hit {
            found = Some(RuntimeContainer { runtime, id, name });
        }
    }
    found
}

/// What a cgroup is called by the runtimes that made it: the container's
/// name, image and pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerLabel {
    /// The container id, where the cgroup is a container's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The container's name (its name in the pod for Kubernetes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// The container's image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The Kubernetes pod's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The Kubernetes pod's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl ContainerLabel {
    /// `namespace/pod`, where both are known.
    pub fn pod_ref(&self) -> Option<String> {
        Some(format!("{}/{}", self.namespace.as_ref()?, self.pod.as_ref()?))
    }

    /// One short text: `name`, `namespace/pod/name`, `namespace/pod`.
    pub fn display(&self) -> Option<String> {
        match (self.pod_ref(), &self.container_name) {
            (Some(p), Some(n)) => Some(format!("{p}/{n}")),
            (Some(p), None) => Some(p),
            (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        }
    }
}

/// The pod UID in a cgroup path component: `pod<uid>` (cgroupfs driver)
/// or `kubepods-<class>-pod<uid with _>.slice` (systemd driver), with `-`.
fn pod_uid_of(component: &str) -> Option<String> {
    let c = component.strip_suffix(".slice").unwrap_or(component);
    let uid = &c[c.rfind("pod")? + 3..];
    let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| uid.replace('_', "-"))
}

/// What the runtimes call the cgroup at `cgroup_path`: its container (the
/// innermost one, [`runtime_of`]) and pod, where their files name them;
/// `None` when nothing names it. A pod's cgroup gets the pod only.
pub fn label_of(cgroup_path: &str, names: &ContainerNames) -> Option<ContainerLabel> {
    let mut label = ContainerLabel::default();
    let parts: Vec<&str> = cgroup_path.split('/').filter(|p| !p.is_empty()).collect();
    if let Some(uid) = parts.iter().rev().find_map(|p| pod_uid_of(p))
        && let Some(pod) = names.pods.get(&uid)
    {
        label.pod = Some(pod.name.clone());
        label.namespace = Some(pod.namespace.clone());
    }
    // The innermost container; a pod's own cgroup (`pod<uid>`) has none.
    if let Some(rc) = runtime_of(cgroup_path) {
        label.container_id = Some(rc.id.clone());
        if let Some(c) = names.containers.get(&rc.id) {
            label.container_name = c.name.clone();
            label.image = c.image.clone();
            label.pod = c.pod.clone().or(label.pod);
            label.namespace = c.namespace.clone().or(label.namespace);
        }
    }
    (label.container_name.is_some() || label.pod.is_some()).then_some(label)
}

/// The cgroups among `paths` that `spec` names by a runtime's name: a
/// container's name, `namespace/pod`, or `namespace/pod/container`. The
/// shallowest matches (a pod's cgroup, not its containers').
pub fn named_by(paths: &[String], spec: &str, names: &ContainerNames) -> Vec<String> {
    let spec = spec.trim().trim_matches('/');
    let hits: Vec<&String> = paths
        .iter()
        .filter(|p| {
            label_of(p, names).is_some_and(|l| {
                l.container_name.as_deref() == Some(spec)
                    || l.display().as_deref() == Some(spec)
                    || l.pod_ref().as_deref() == Some(spec) && l.container_name.is_none()
            })
        })
        .collect();
    hits.iter()
        .filter(|p| !hits.iter().any(|q| q != *p && p.starts_with(&format!("{}/", q.trim_end_matches('/')))))
        .map(|p| (*p).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "3f4e1c9a2b7d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071";

    #[test]
    fn runtimes() {
        let d = runtime_of(&format!("/system.slice/docker-{ID}.scope")).unwrap();
        assert_eq!((d.runtime, d.name.as_str()), ("docker", "3f4e1c9a2b7d"));
        assert_eq!(d.id, ID);
        assert_eq!(runtime_of(&format!("/docker/{ID}")).unwrap().runtime, "docker");
        assert_eq!(
            runtime_of(&format!("/machine.slice/libpod-{ID}.scope/container")).unwrap().runtime,
            "podman"
        );
        let k = runtime_of(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-{ID}.scope"
        ))
        .unwrap();
        assert_eq!(k.runtime, "containerd");
        assert_eq!(
            runtime_of(&format!("/kubepods/burstable/pod1234-5678/{ID}")).unwrap().runtime,
            "kubernetes"
        );
        assert_eq!(runtime_of(&format!("/kubepods.slice/x/crio-{ID}.scope")).unwrap().runtime, "cri-o");
        let l = runtime_of("/lxc.payload.web1/system.slice/nginx.service").unwrap();
        assert_eq!((l.runtime, l.name.as_str()), ("lxc", "web1"));
        assert_eq!(runtime_of("/lxc/db").unwrap().name, "db");
        let m = runtime_of("/machine.slice/machine-my\\x2dbox.scope/payload").unwrap();
        assert_eq!((m.runtime, m.name.as_str()), ("systemd-machine", "my-box"));
    }

    #[test]
    fn host_paths_are_not_containers() {
        for p in [
            "/",
            "/init.scope",
            "/user.slice/user-1000.slice/session-2.scope",
            "/system.slice/docker.service",
            "/system.slice/containerd.service",
            "/lxc.monitor.web1",
            "/machine.slice",
        ] {
            assert_eq!(runtime_of(p), None, "{p}");
        }
    }

    fn names() -> ContainerNames {
        use memscope_model::containers::{ContainerName, PodRef};
        let mut n = ContainerNames::default();
        n.containers.insert(
            ID.to_string(),
            ContainerName { runtime: "docker".into(), name: Some("shop-db-1".into()), ..Default::default() },
        );
        n.containers.insert(
            "a".repeat(64),
            ContainerName { runtime: "containerd".into(), name: Some("api".into()), ..Default::default() },
        );
        n.pods.insert(
            "6f1c2a3b-1111-2222-3333-444455556666".into(),
            PodRef { namespace: "shop".into(), name: "web-7d9f".into() },
        );
        n
    }

    const POD: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6f1c2a3b_1111_2222_3333_444455556666.slice";

    #[test]
    fn labels_name_containers_and_pods() {
        let n = names();
        let d = label_of(&format!("/system.slice/docker-{ID}.scope"), &n).unwrap();
        assert_eq!(d.display().as_deref(), Some("shop-db-1"));
        let pod = label_of(POD, &n).unwrap();
        assert_eq!((pod.display().as_deref(), pod.container_name), (Some("shop/web-7d9f"), None));
        let c = label_of(&format!("{POD}/cri-containerd-{}.scope", "a".repeat(64)), &n).unwrap();
        assert_eq!(c.display().as_deref(), Some("shop/web-7d9f/api"));
        assert_eq!(label_of("/system.slice/nginx.service", &n), None);
        assert_eq!(label_of(&format!("/docker/{}", "b".repeat(64)), &n), None, "an id no runtime names");
    }

    #[test]
    fn specs_by_name() {
        let n = names();
        let paths: Vec<String> = vec![
            "/".into(),
            format!("/system.slice/docker-{ID}.scope"),
            POD.into(),
            format!("{POD}/cri-containerd-{}.scope", "a".repeat(64)),
        ];
        assert_eq!(named_by(&paths, "shop-db-1", &n), [paths[1].clone()]);
        assert_eq!(named_by(&paths, "shop/web-7d9f", &n), [paths[2].clone()]);
        assert_eq!(named_by(&paths, "api", &n), [paths[3].clone()]);
        assert_eq!(named_by(&paths, "shop/web-7d9f/api", &n), [paths[3].clone()]);
        assert!(named_by(&paths, "nope", &n).is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = runtime_of(&s);
            let _ = unescape_systemd(&s);
            let _ = label_of(&s, &names());
            let _ = pod_uid_of(&s);
        }
    }
}
