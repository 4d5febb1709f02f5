//! Tabs whose data comes from views built separately: the cgroup tree
//! (`memscope cgroups`) and the file-descriptor doctor (`memscope fds`).
//! When their analysis lands, each becomes a module like `slab.rs` fed from
//! a new field of [`crate::view::View`]; until then the tab says so instead
//! of showing an empty table that would read as "nothing there".

use ratatui::Frame;
use ratatui::layout::Rect;

pub fn cgroups(f: &mut Frame, area: Rect) {
    super::unavailable(
        f,
        area,
        "cgroups",
        "this build of memscope top does not collect the cgroup tree yet (memory.current, memory.max, OOM kills per cgroup)",
    );
}

pub fn fds(f: &mut Frame, area: Rect) {
    super::unavailable(
        f,
        area,
        "file descriptors",
        "this build of memscope top does not collect open files yet (file-nr against file-max, fds per process)",
    );
}
