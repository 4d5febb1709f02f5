//! Container runtimes' own files: the names users know containers by.
//!
//! The kernel knows a container only as a cgroup path holding an id
//! (`docker-<64 hex>.scope`, `pod<uid>`). The runtimes keep the names next
//! to their state; these parsers take from those files the name, the image
//! and the Kubernetes pod and namespace, and nothing else:
//!
//! ```text
//! /var/lib/docker/containers/<id>/config.v2.json        Docker: Name, Config.Image,
//!                                                       Config.Labels io.kubernetes.*
//! /run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/config.json
//!                                                       containerd's OCI bundle: annotations
//!                                                       io.kubernetes.cri.{container-name,
//!                                                       sandbox-name, sandbox-namespace, …}
//! /run/containers/storage/overlay-containers/<id>/userdata/config.json
//!                                                       CRI-O's OCI bundle: annotations
//!                                                       io.kubernetes.{pod,container}.*
//! /var/lib/containers/storage/overlay-containers/containers.json
//!                                                       containers/storage (podman, CRI-O):
//!                                                       id, names, metadata
//! /var/log/pods/<namespace>_<pod>_<uid>/                kubelet's pod log directories
//! ```
//!
//! These files also hold the container's environment, its command line and
//! mounts, which often carry secrets (`Config.Env`, `process.env`). They are
//! never kept: each parser deserializes only the fields below, and
//! [`RuntimeFormat::scrub`] writes a file of the same format with those
//! fields only, which is what `memscope capture` stores. Label and
//! annotation keys other than [`KEPT_KEYS`] are dropped too.
//!
//! Every kept string is at most [`MAX_NAME_CHARS`] characters with control
//! characters replaced, so that a name cannot move the terminal's cursor.
//! serde_json bounds nesting (128 levels), so no input overflows the stack.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::ParseError;

/// The longest name kept (Kubernetes names are at most 253 characters).
pub const MAX_NAME_CHARS: usize = 256;

/// Label and annotation keys kept: those that name a container, its image
/// and its pod. Everything else (including every other label a user set)
/// is dropped.
pub const KEPT_KEYS: &[&str] = &[
    // Set by the kubelet on every container (Docker labels, CRI-O annotations).
    POD_NAME,
    POD_NAMESPACE,
    POD_UID,
    CONTAINER_NAME,
    // containerd's CRI plugin (internal/cri/annotations).
    CRI_CONTAINER_NAME,
    CRI_CONTAINER_TYPE,
    CRI_SANDBOX_NAME,
    CRI_SANDBOX_NAMESPACE,
    CRI_SANDBOX_UID,
    CRI_IMAGE_NAME,
    // CRI-O (pkg/annotations).
    CRIO_CONTAINER_TYPE,
    CRIO_IMAGE_NAME,
    // Docker Compose.
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
];

/// The pod's name (kubelet label).
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// The pod's namespace (kubelet label).
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The pod's UID (kubelet label).
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// The container's name in its pod (kubelet label).
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// containerd CRI: the container's name in its pod.
pub const CRI_CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";
/// containerd CRI: `sandbox` (the pod's pause container) or `container`.
pub const CRI_CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
/// containerd CRI: the pod's name.
pub const CRI_SANDBOX_NAME: &str = "io.kubernetes.cri.sandbox-name";
/// containerd CRI: the pod's namespace.
pub const CRI_SANDBOX_NAMESPACE: &str = "io.kubernetes.cri.sandbox-namespace";
/// containerd CRI: the pod's UID.
pub const CRI_SANDBOX_UID: &str = "io.kubernetes.cri.sandbox-uid";
/// containerd CRI: the image as the pod spec names it.
pub const CRI_IMAGE_NAME: &str = "io.kubernetes.cri.image-name";
/// CRI-O: `sandbox` or `container`.
pub const CRIO_CONTAINER_TYPE: &str = "io.kubernetes.cri-o.ContainerType";
/// CRI-O: the image as the pod spec names it.
pub const CRIO_IMAGE_NAME: &str = "io.kubernetes.cri-o.ImageName";
/// Docker Compose: the project.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// Docker Compose: the service.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// What a runtime's file says about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeName {
    /// The container id (64 hex digits for Docker, containerd, CRI-O and
    /// podman).
    pub id: String,
    /// The container's name: Docker's and podman's name, or its name in
    /// its Kubernetes pod. A pod's sandbox (pause) container is named
    /// `POD`, as the kubelet names it.
    pub name: Option<String>,
    /// The image, as the user named it (`nginx:1.25`), or its id.
    pub image: Option<String>,
    /// The Kubernetes pod's name.
    pub pod: Option<String>,
    /// The Kubernetes pod's namespace.
    pub namespace: Option<String>,
    /// The Kubernetes pod's UID.
    pub pod_uid: Option<String>,
}

/// A Kubernetes pod, from its log directory's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodName {
    /// The pod's UID (`8-4-4-4-12` hex digits).
    pub uid: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
}

/// The format of a runtime file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFormat {
    /// Docker's `config.v2.json`.
    DockerConfig,
    /// An OCI bundle's `config.json` (containerd, CRI-O).
    OciBundle,
    /// containers/storage's `containers.json` (podman, CRI-O).
    StorageContainers,
}

/// A string kept from a runtime file: bounded, without control characters,
/// `None` when empty.
fn clean(s: &str) -> Option<String> {
    let s: String = s.chars().take(MAX_NAME_CHARS).map(|c| if c.is_control() { '?' } else { c }).collect();
    (!s.is_empty()).then_some(s)
}

fn json_error(e: serde_json::Error) -> ParseError {
    ParseError::new(e.line(), format!("JSON: {e}"))
}

/// Only the kept keys of a label or annotation map.
fn kept(map: BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    map.into_iter()
        .filter(|(k, _)| KEPT_KEYS.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k, clean(v.as_str()?)?)))
        .collect()
}

impl RuntimeName {
    /// Fill name, pod, namespace and UID from kubelet labels or CRI
    /// annotations, where the file's own fields did not.
    fn from_keys(id: &str, keys: &BTreeMap<String, String>) -> RuntimeName {
        let get = |names: &[&str]| names.iter().find_map(|k| keys.get(*k).cloned());
        let sandbox = [CRI_CONTAINER_TYPE, CRIO_CONTAINER_TYPE]
            .iter()
            .any(|k| keys.get(*k).is_some_and(|v| v == "sandbox"));
        let name = if sandbox {
            Some("POD".to_string())
        } else {
            get(&[CONTAINER_NAME, CRI_CONTAINER_NAME]).or_else(|| {
                let service = get(&[COMPOSE_SERVICE])?;
                Some(match get(&[COMPOSE_PROJECT]) {
                    Some(p) => format!("{p}-{service}"),
                    None => service,
                })
            })
        };
        RuntimeName {
            id: clean(id).unwrap_or_default(),
            name,
            image: get(&[CRI_IMAGE_NAME, CRIO_IMAGE_NAME]),
            pod: get(&[POD_NAME, CRI_SANDBOX_NAME]),
            namespace: get(&[POD_NAMESPACE, CRI_SANDBOX_NAMESPACE]),
            pod_uid: get(&[POD_UID, CRI_SANDBOX_UID]),
        }
    }
}

#[derive(Deserialize, Serialize, Default)]
struct DockerConfig {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(rename = "Config", default, skip_serializing_if = "Option::is_none")]
    config: Option<DockerInner>,
}

#[derive(Deserialize, Serialize, Default)]
struct DockerInner {
    #[serde(rename = "Image", default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(rename = "Labels", default, deserialize_with = "labels")]
    labels: BTreeMap<String, serde_json::Value>,
}

/// A label map that may be `null`.
fn labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, serde_json::Value>, D::Error> {
    Ok(Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize, Serialize, Default)]
struct OciBundle {
    #[serde(default, deserialize_with = "labels")]
    annotations: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Serialize)]
struct StorageContainer {
    #[serde(default)]
    id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "names")]
    names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    /// A JSON document in a string, written by the tool that made the
    /// container (podman's libpod, CRI-O's pkg/storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<String>,
}

fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// The fields of a containers/storage container's metadata memscope uses
/// (podman: `image-name`, `name`; CRI-O adds the pod's).
#[derive(Deserialize, Serialize, Default)]
struct StorageMetadata {
    #[serde(rename = "image-name", default, skip_serializing_if = "Option::is_none")]
    image_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(rename = "metadata-name", default, skip_serializing_if = "Option::is_none")]
    metadata_name: Option<String>,
    #[serde(rename = "pod-name", default, skip_serializing_if = "Option::is_none")]
    pod_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pod: bool,
}

/// Parse Docker's `config.v2.json` of container `id` (the directory's
/// name; the file's `ID` where the directory gives none).
pub fn parse_docker_config(id: &str, text: &str) -> Result<RuntimeName, ParseError> {
    let c: DockerConfig = serde_json::from_str(text).map_err(json_error)?;
    let inner = c.config.unwrap_or_default();
    let id = if id.is_empty() { c.id.as_deref().unwrap_or("") } else { id };
    let mut n = RuntimeName::from_keys(id, &kept(inner.labels));
    // Docker names start with `/` (a legacy of links: `/web`).
    if let Some(name) = c.name.as_deref().and_then(|s| clean(s.trim_start_matches('/'))) {
        // A kubelet-made name (`k8s_<container>_<pod>_…`) says less than
        // the labels do.
        if n.name.is_none() || !name.starts_with("k8s_") {
            n.name = Some(name);
        }
    }
    n.image = inner.image.as_deref().and_then(clean).or(n.image);
    Ok(n)
}

/// Parse an OCI bundle's `config.json` of container `id`: its annotations.
pub fn parse_oci_bundle(id: &str, text: &str) -> Result<RuntimeName, ParseError> {
    let b: OciBundle = serde_json::from_str(text).map_err(json_error)?;
    Ok(RuntimeName::from_keys(id, &kept(b.annotations)))
}

/// Parse containers/storage's `containers.json`: one entry per container.
pub fn parse_storage_containers(text: &str) -> Result<Vec<RuntimeName>, ParseError> {
    let list: Vec<StorageContainer> = serde_json::from_str(text).map_err(json_error)?;
    Ok(list.into_iter().filter_map(storage_entry).collect())
}

fn storage_entry(c: StorageContainer) -> Option<RuntimeName> {
    let id = clean(&c.id)?;
    let meta: StorageMetadata =
        c.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or_default();
    let in_pod = meta.pod_name.is_some();
    let name = if meta.pod {
        Some("POD".to_string())
    } else if in_pod {
        meta.metadata_name.as_deref().and_then(clean)
    } else {
        None
    }
    .or_else(|| meta.name.as_deref().and_then(clean))
    .or_else(|| c.names.first().and_then(|n| clean(n)));
    Some(RuntimeName {
        id,
        name,
        image: meta.image_name.as_deref().and_then(clean).or_else(|| c.image.as_deref().and_then(clean)),
        pod: meta.pod_name.as_deref().and_then(clean),
        namespace: meta.namespace.as_deref().and_then(clean),
        pod_uid: meta.uid.as_deref().and_then(clean),
    })
}

/// A kubelet pod log directory's name, `<namespace>_<pod>_<uid>` (the
/// kubelet's `BuildPodLogsDirectory`). Namespaces and pod names are DNS
/// names, without `_`.
pub fn parse_pod_log_dir(dir_name: &str) -> Option<PodName> {
    let mut parts = dir_name.split('_');
    let (namespace, name, uid) = (parts.next()?, parts.next()?, parts.next()?);
    let uid_like = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if parts.next().is_some() || !uid_like {
        return None;
    }
    Some(PodName { uid: uid.to_string(), namespace: clean(namespace)?, name: clean(name)? })
}

impl RuntimeFormat {
    /// A file of this format holding only what memscope keeps of `text`
    /// (see the module documentation), or `None` when `text` does not parse.
    /// Parsing the result gives what parsing `text` gives.
    pub fn scrub(self, text: &str) -> Option<String> {
        let out = match self {
            RuntimeFormat::DockerConfig => {
                let c: DockerConfig = serde_json::from_str(text).ok()?;
                let inner = c.config.map(|i| DockerInner {
                    image: i.image,
                    labels: kept(i.labels).into_iter().map(|(k, v)| (k, v.into())).collect(),
                });
                serde_json::to_string(&DockerConfig { id: c.id, name: c.name, config: inner })
            }
            RuntimeFormat::OciBundle => {
                let b: OciBundle = serde_json::from_str(text).ok()?;
                let annotations = kept(b.annotations).into_iter().map(|(k, v)| (k, v.into())).collect();
                serde_json::to_string(&OciBundle { annotations })
            }
            RuntimeFormat::StorageContainers => {
                let list: Vec<StorageContainer> = serde_json::from_str(text).ok()?;
                let list: Vec<StorageContainer> = list
                    .into_iter()
                    .map(|c| StorageContainer {
                        metadata: c
                            .metadata
                            .as_deref()
                            .and_then(|m| serde_json::from_str::<StorageMetadata>(m).ok())
                            .and_then(|m| serde_json::to_string(&m).ok()),
                        ..c
                    })
                    .collect();
                serde_json::to_string(&list)
            }
        };
        out.ok().map(|s| s + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "3f4e1c9a2b7d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071";

    /// Shaped like Docker 24's config.v2.json, shortened.
    const DOCKER: &str = r#"{"StreamConfig":{},"State":{"Running":true,"Pid":4242},
"ID":"3f4e1c9a2b7d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071",
"Created":"2026-11-30T10:00:00.000000000Z","Path":"docker-entrypoint.sh","Args":["postgres","--password=hunter2"],
"Config":{"Hostname":"3f4e1c9a2b7d","User":"","Env":["POSTGRES_PASSWORD=hunter2","PATH=/usr/local/bin:/usr/bin"],
"Cmd":["postgres"],"Image":"postgres:16","Volumes":null,"WorkingDir":"","Entrypoint":["docker-entrypoint.sh"],
"Labels":{"com.docker.compose.project":"shop","com.docker.compose.service":"db","com.example.token":"s3cr3t"}},
"Image":"sha256:0f9e8d7c","Name":"/shop-db-1","Driver":"overlay2","MountLabel":"","ProcessLabel":""}"#;

    /// A container the kubelet made through cri-dockerd.
    const DOCKER_K8S: &str = r#"{"ID":"abc","Name":"/k8s_api_web-7d9f_shop_6f1c2a3b-1111-2222-3333-444455556666_0",
"Config":{"Image":"registry.example/web@sha256:01","Env":["API_KEY=xyz"],"Labels":{
"io.kubernetes.container.name":"api","io.kubernetes.pod.name":"web-7d9f","io.kubernetes.pod.namespace":"shop",
"io.kubernetes.pod.uid":"6f1c2a3b-1111-2222-3333-444455556666","annotation.io.kubernetes.container.hash":"1"}}}"#;

    /// containerd CRI bundle, shortened (`process.env` holds the secrets).
    const CONTAINERD: &str = r#"{"ociVersion":"1.1.0","process":{"user":{"uid":0,"gid":0},
"args":["/app","--token=abc"],"env":["DB_PASSWORD=hunter2"],"cwd":"/"},"root":{"path":"rootfs"},
"annotations":{"io.kubernetes.cri.container-name":"api","io.kubernetes.cri.container-type":"container",
"io.kubernetes.cri.image-name":"registry.example/api:2.1","io.kubernetes.cri.sandbox-id":"9a9a",
"io.kubernetes.cri.sandbox-name":"api-5c6d7-x2x9z","io.kubernetes.cri.sandbox-namespace":"payments",
"io.kubernetes.cri.sandbox-uid":"0b9c8d7e-aaaa-bbbb-cccc-ddddeeeeffff"},"linux":{"cgroupsPath":"x"}}"#;

    /// CRI-O bundle annotations.
    const CRIO: &str = r#"{"ociVersion":"1.0.2-dev","process":{"env":["SECRET=1"]},"annotations":{
"io.kubernetes.container.name":"coredns","io.kubernetes.cri-o.ContainerType":"container",
"io.kubernetes.cri-o.ImageName":"registry.k8s.io/coredns/coredns:v1.11.1",
"io.kubernetes.cri-o.Labels":"{\"io.kubernetes.pod.name\":\"coredns-76f75df574-8xq2l\"}",
"io.kubernetes.pod.name":"coredns-76f75df574-8xq2l","io.kubernetes.pod.namespace":"kube-system",
"io.kubernetes.pod.uid":"11112222-3333-4444-5555-666677778888"}}"#;

    /// containers/storage's list: a podman container and a CRI-O one.
    const STORAGE: &str = r#"[{"id":"aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa1111bbbb2222",
"names":["redis-cache"],"image":"7614ae9453d1","layer":"f00d",
"metadata":"{\"image-name\":\"docker.io/library/redis:7\",\"image-id\":\"7614ae9453d1\",\"name\":\"redis-cache\",\"created-at\":1764000000,\"mountlabel\":\"\"}",
"created":"2026-11-25T10:00:00Z","flags":{"MountLabel":""}},
{"id":"bbbb","names":["k8s_etcd_etcd-node1_kube-system_9999_0"],"image":"aa",
"metadata":"{\"pod-name\":\"etcd-node1\",\"pod-id\":\"cc\",\"image-name\":\"registry.k8s.io/etcd:3.5\",\"name\":\"k8s_etcd_etcd-node1_kube-system_9999_0\",\"metadata-name\":\"etcd\",\"uid\":\"9999\",\"namespace\":\"kube-system\"}"},
{"names":["no-id"]}]"#;

    #[test]
    fn docker_config_gives_the_name_and_image() {
        let n = parse_docker_config(ID, DOCKER).unwrap();
        assert_eq!(n.id, ID);
        assert_eq!(n.name.as_deref(), Some("shop-db-1"));
        assert_eq!(n.image.as_deref(), Some("postgres:16"));
        assert_eq!((n.pod, n.namespace), (None, None));
    }

    #[test]
    fn docker_config_of_a_kubelet_container_gives_the_pod() {
        let n = parse_docker_config("abc", DOCKER_K8S).unwrap();
        assert_eq!(n.name.as_deref(), Some("api"));
        assert_eq!(n.pod.as_deref(), Some("web-7d9f"));
        assert_eq!(n.namespace.as_deref(), Some("shop"));
        assert_eq!(n.pod_uid.as_deref(), Some("6f1c2a3b-1111-2222-3333-444455556666"));
    }

    #[test]
    fn docker_config_env_and_other_labels_are_dropped() {
        let scrubbed = RuntimeFormat::DockerConfig.scrub(DOCKER).unwrap();
        for secret in ["hunter2", "POSTGRES_PASSWORD", "s3cr3t", "com.example.token", "Args", "Env"] {
            assert!(!scrubbed.contains(secret), "{secret} in {scrubbed}");
        }
        let kept = parse_docker_config(ID, &scrubbed).unwrap();
        assert_eq!(kept, parse_docker_config(ID, DOCKER).unwrap());
        let n = format!("{:?}", parse_docker_config(ID, DOCKER).unwrap());
        assert!(!n.contains("hunter2") && !n.contains("s3cr3t"), "{n}");
        let k8s = RuntimeFormat::DockerConfig.scrub(DOCKER_K8S).unwrap();
        assert!(!k8s.contains("API_KEY") && !k8s.contains("xyz"), "{k8s}");
        assert_eq!(
            parse_docker_config("abc", &k8s).unwrap(),
            parse_docker_config("abc", DOCKER_K8S).unwrap()
        );
    }

    #[test]
    fn containerd_bundle_annotations() {
        let n = parse_oci_bundle(ID, CONTAINERD).unwrap();
        assert_eq!(n.name.as_deref(), Some("api"));
        assert_eq!(n.image.as_deref(), Some("registry.example/api:2.1"));
        assert_eq!(n.pod.as_deref(), Some("api-5c6d7-x2x9z"));
        assert_eq!(n.namespace.as_deref(), Some("payments"));
        assert_eq!(n.pod_uid.as_deref(), Some("0b9c8d7e-aaaa-bbbb-cccc-ddddeeeeffff"));
        let scrubbed = RuntimeFormat::OciBundle.scrub(CONTAINERD).unwrap();
        assert!(!scrubbed.contains("hunter2") && !scrubbed.contains("token"), "{scrubbed}");
        assert_eq!(parse_oci_bundle(ID, &scrubbed).unwrap(), n);
    }

    #[test]
    fn containerd_sandbox_is_the_pods_pause_container() {
        let text = CONTAINERD.replace(
            "io.kubernetes.cri.container-type\":\"container\"",
            "io.kubernetes.cri.container-type\":\"sandbox\"",
        );
        assert_eq!(parse_oci_bundle(ID, &text).unwrap().name.as_deref(), Some("POD"));
    }

    #[test]
    fn crio_bundle_annotations() {
        let n = parse_oci_bundle(ID, CRIO).unwrap();
        assert_eq!(n.name.as_deref(), Some("coredns"));
        assert_eq!(n.image.as_deref(), Some("registry.k8s.io/coredns/coredns:v1.11.1"));
        assert_eq!(n.pod.as_deref(), Some("coredns-76f75df574-8xq2l"));
        assert_eq!(n.namespace.as_deref(), Some("kube-system"));
        let scrubbed = RuntimeFormat::OciBundle.scrub(CRIO).unwrap();
        assert!(!scrubbed.contains("SECRET") && !scrubbed.contains("cri-o.Labels"), "{scrubbed}");
    }

    #[test]
    fn storage_containers_podman_and_crio() {
        let list = parse_storage_containers(STORAGE).unwrap();
        assert_eq!(list.len(), 2, "the entry without an id is skipped");
        assert_eq!(list[0].name.as_deref(), Some("redis-cache"));
        assert_eq!(list[0].image.as_deref(), Some("docker.io/library/redis:7"));
        assert_eq!(list[1].name.as_deref(), Some("etcd"));
        assert_eq!(list[1].pod.as_deref(), Some("etcd-node1"));
        assert_eq!(list[1].namespace.as_deref(), Some("kube-system"));
        let scrubbed = RuntimeFormat::StorageContainers.scrub(STORAGE).unwrap();
        assert!(!scrubbed.contains("created-at") && !scrubbed.contains("layer"), "{scrubbed}");
        assert_eq!(parse_storage_containers(&scrubbed).unwrap(), list);
    }

    #[test]
    fn pod_log_directories() {
        let p =
            parse_pod_log_dir("kube-system_coredns-76f75df574-8xq2l_11112222-3333-4444-5555-666677778888")
                .unwrap();
        assert_eq!((p.namespace.as_str(), p.name.as_str()), ("kube-system", "coredns-76f75df574-8xq2l"));
        assert_eq!(p.uid, "11112222-3333-4444-5555-666677778888");
        for bad in [
            "",
            "a_b",
            "a_b_c",
            "a_b_11112222-3333-4444-5555-666677778888_x",
            "_x_11112222-3333-4444-5555-666677778888",
        ] {
            assert_eq!(parse_pod_log_dir(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_lose_control_characters_and_length() {
        let text = format!(r#"{{"Name":"/evil\u001b[2J{}"}}"#, "x".repeat(1000));
        let n = parse_docker_config(ID, &text).unwrap().name.unwrap();
        assert!(!n.contains('\u{1b}'));
        assert_eq!(n.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(parse_docker_config(ID, "").is_err());
        assert!(parse_oci_bundle(ID, "{\"annotations\": [1]}").is_err());
        assert!(parse_storage_containers("{}").is_err());
        assert_eq!(RuntimeFormat::OciBundle.scrub("nope"), None);
        let deep = "[".repeat(100_000);
        assert!(parse_storage_containers(&deep).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_docker_config("", &s);
            let _ = parse_oci_bundle(ID, &s);
            let _ = parse_storage_containers(&s);
            let _ = parse_pod_log_dir(&s);
            for f in [RuntimeFormat::DockerConfig, RuntimeFormat::OciBundle, RuntimeFormat::StorageContainers] {
                let _ = f.scrub(&s);
            }
        }
    }
}
