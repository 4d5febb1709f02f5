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

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = runtime_of(&s); let _ = unescape_systemd(&s); }
    }
}
