//! Containers named as users know them: the Kubernetes node fixture
//! (tests/fixtures/cgroups-v2-kubernetes-node) with containerd's OCI
//! bundles and the kubelet's pod log directory added, read by
//! `report --cgroup`, `cgroups` and `capture`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use memscope_kernel::paths;
use memscope_testkit::fixture_dir;
use serde_json::Value;

const POD_UID: &str = "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const APP: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const PAUSE: &str = "0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd";
const POD_CGROUP: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if ty.is_dir() {
            copy_tree(&e.path(), &dest);
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), dest).unwrap();
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn bundle(kind: &str) -> String {
    format!(
        r#"{{"ociVersion":"1.1.0","process":{{"args":["/app","--db-password=hunter2"],"env":["API_TOKEN=hunter2"]}},
"annotations":{{"io.kubernetes.cri.container-name":"app","io.kubernetes.cri.container-type":"{kind}",
"io.kubernetes.cri.image-name":"registry.example/shop/app:1.4","io.kubernetes.cri.sandbox-name":"shop-7d9f",
"io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":"{POD_UID}",
"example.com/secret-annotation":"hunter2"}}}}"#
    )
}

/// The fixture with the runtime's files added, in a fresh directory.
fn node_with_runtime_files(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join(name);
    copy_tree(&fixture_dir("cgroups-v2-kubernetes-node"), &root);
    let task =
        |id: &str| root.join(format!("{}/k8s.io/{id}", paths::CONTAINERD_TASKS).trim_start_matches('/'));
    for (id, kind) in [(APP, "container"), (PAUSE, "sandbox")] {
        std::fs::create_dir_all(task(id)).unwrap();
        std::fs::write(task(id).join(paths::OCI_CONFIG), bundle(kind)).unwrap();
    }
    let logs =
        root.join(paths::POD_LOGS.trim_start_matches('/')).join(format!("shop_shop-7d9f_{POD_UID}/app"));
    std::fs::create_dir_all(logs).unwrap();
    (tmp, root)
}

fn memscope(root: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(root)
        .arg("--no-color")
        .args(args)
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn json(root: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&memscope(root, &all).stdout).expect("JSON")
}

#[test]
fn report_cgroup_by_container_name_shows_the_container_and_pod() {
    let (_tmp, root) = node_with_runtime_files("by-name");
    let doc = json(&root, &["report", "--cgroup", "app"]);
    assert_eq!(doc["cgroup"], format!("{POD_CGROUP}/cri-containerd-{APP}.scope"));
    assert_eq!(doc["container_id"], APP);
    assert_eq!(doc["container_name"], "app");
    assert_eq!(doc["image"], "registry.example/shop/app:1.4");
    assert_eq!((doc["namespace"].as_str(), doc["pod"].as_str()), (Some("shop"), Some("shop-7d9f")));
    let table = String::from_utf8(memscope(&root, &["report", "--cgroup", "app"]).stdout).unwrap();
    assert!(table.contains("Container: app  (image registry.example/shop/app:1.4)"), "{table}");
    assert!(table.contains("Pod: shop/shop-7d9f"), "{table}");
}

#[test]
fn report_cgroup_by_namespace_and_pod_is_the_pods_cgroup() {
    let (_tmp, root) = node_with_runtime_files("by-pod");
    let doc = json(&root, &["report", "--cgroup", "shop/shop-7d9f"]);
    assert_eq!(doc["cgroup"], POD_CGROUP);
    assert_eq!(doc["pod"], "shop-7d9f");
    assert!(doc.get("container_name").is_none(), "a pod is no container: {doc}");
    let pause = json(&root, &["report", "--cgroup", "shop/shop-7d9f/POD"]);
    assert_eq!(pause["cgroup"], format!("{POD_CGROUP}/cri-containerd-{PAUSE}.scope"));
}

#[test]
fn cgroups_names_the_pod_and_its_containers() {
    let (_tmp, root) = node_with_runtime_files("cgroups");
    let table = String::from_utf8(memscope(&root, &["cgroups", "--no-pss"]).stdout).unwrap();
    for name in ["[shop/shop-7d9f]", "[shop/shop-7d9f/app]", "[shop/shop-7d9f/POD]"] {
        assert!(table.contains(name), "{name} not in\n{table}");
    }
    let doc = json(&root, &["cgroups", "--no-pss"]);
    let app = doc["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"].as_str().is_some_and(|p| p.ends_with(&format!("{APP}.scope"))))
        .expect("the app container's cgroup");
    assert_eq!(app["container"]["container_name"], "app");
    assert_eq!(app["container"]["namespace"], "shop");
}

#[test]
fn without_runtime_files_nothing_is_named() {
    let doc = json(&fixture_dir("cgroups-v2-kubernetes-node"), &["report", "--cgroup", POD_UID]);
    assert!(doc.get("pod").is_none() && doc.get("container_name").is_none(), "{doc}");
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            files_under(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

#[test]
fn capture_keeps_the_names_and_no_environment() {
    let (tmp, root) = node_with_runtime_files("capture");
    let out = tmp.path().join("captured");
    memscope(&root, &["capture", "--out", out.to_str().unwrap()]);
    let kept = out.join(
        format!("{}/k8s.io/{APP}/{}", paths::CONTAINERD_TASKS, paths::OCI_CONFIG).trim_start_matches('/'),
    );
    let text = std::fs::read_to_string(&kept).expect("the bundle's names are captured");
    assert!(text.contains("shop-7d9f"), "{text}");
    let mut files = Vec::new();
    files_under(&out, &mut files);
    for f in files {
        let data = std::fs::read(&f).unwrap();
        assert!(!String::from_utf8_lossy(&data).contains("hunter2"), "{} holds a secret", f.display());
    }
    let doc = json(&out, &["report", "--cgroup", "app"]);
    assert_eq!(doc["pod"], "shop-7d9f");
}

#[test]
fn ps_groups_containers_by_name() {
    let (_tmp, root) = node_with_runtime_files("ps");
    let doc = json(&root, &["ps", "--group-by", "container"]);
    let keys: Vec<&str> =
        doc["groups"].as_array().unwrap().iter().filter_map(|g| g["key"].as_str()).collect();
    assert!(keys.contains(&"shop/shop-7d9f/app"), "{keys:?}");
    assert!(keys.contains(&"shop/shop-7d9f/POD"), "{keys:?}");
    let table = String::from_utf8(memscope(&root, &["ps", "--group-by", "container"]).stdout).unwrap();
    assert!(table.contains("shop/shop-7d9f/app"), "{table}");
}
