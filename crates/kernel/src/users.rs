//! User names for uids.
//!
//! Live, through the C library (`getpwuid_r`, `getpwnam_r`), so that users
//! from NSS sources (LDAP, systemd-userdb) have names as in `ps`. In a
//! captured tree, from the tree's `etc/passwd` if it holds one; otherwise
//! uids stay numbers.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};

use crate::{KernelRoot, paths};

/// `name:x:uid:…` lines of a passwd file → uid → name (first name wins).
pub fn parse_passwd(text: &str) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else { continue };
        if let Ok(uid) = uid.parse::<u32>()
            && !name.is_empty()
            && !name.starts_with('#')
        {
            out.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    out
}

/// Names of `uids`; uids without a name are left out.
pub fn names(root: &KernelRoot, uids: impl IntoIterator<Item = u32>) -> BTreeMap<u32, String> {
    if root.is_live() {
        uids.into_iter().filter_map(|u| Some((u, live_name(u)?))).collect()
    } else {
        let table = root.read_text(paths::PASSWD).map(|t| parse_passwd(&t)).unwrap_or_default();
        uids.into_iter().filter_map(|u| Some((u, table.get(&u)?.clone()))).collect()
    }
}

/// The uid of a user given by name or number.
pub fn uid_of(root: &KernelRoot, user: &str) -> Option<u32> {
    if let Ok(uid) = user.parse::<u32>() {
        return Some(uid);
    }
    if root.is_live() {
        live_uid(user)
    } else {
        let table = root.read_text(paths::PASSWD).ok()?;
        parse_passwd(&table).into_iter().find(|(_, n)| n == user).map(|(u, _)| u)
    }
}

fn live_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: `pwd` and `buf` outlive the call; on success `result` points
    // at `pwd`, whose strings point into `buf`, read before `buf` is dropped.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned())
    }
}

fn live_uid(name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: as in `live_name`.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(cname.as_ptr(), &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result);
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(pwd.pw_uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let t = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# comment:x:5\nbroken\nalice:x:1000:1000::/home/a:/bin/sh\ndup:x:0:0\n",
        );
        assert_eq!(t.get(&0).map(String::as_str), Some("root"));
        assert_eq!(t.get(&1000).map(String::as_str), Some("alice"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn live_root_is_root() {
        assert_eq!(live_name(0).as_deref(), Some("root"));
        assert_eq!(live_uid("root"), Some(0));
        assert_eq!(uid_of(&KernelRoot::live(), "0"), Some(0));
    }
}
