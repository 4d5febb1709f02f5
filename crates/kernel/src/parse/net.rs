//! The socket tables of `/proc/net` (which is `/proc/self/net`: the reader's
//! network namespace; `/proc/PID/net` shows another process's): one line
//! per socket, with the socket's inode, the number `/proc/PID/fd/N` shows
//! as `socket:[inode]`.
//!
//! Four formats:
//! - `tcp`, `tcp6`, `udp`, `udp6`, `udplite`, `udplite6`, `raw`, `raw6`,
//!   `icmp`, `icmp6` (net/ipv4/tcp_ipv4.c `get_tcp4_sock`, udp.c, raw.c,
//!   ping.c and their ipv6 twins):
//!   ```text
//!   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//!    1: 0100007F:A165 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 35133 …
//!   ```
//!   Addresses are the `__be32` words printed as host-order hex (`%08X`):
//!   `0100007F` is 127.0.0.1 on a little-endian machine. Ports are host
//!   order. `st` is the TCP state (include/net/tcp_states.h; UDP uses 01
//!   for connected, 07 for not). TIME_WAIT entries have inode 0 (no file).
//! - `unix` (net/unix/af_unix.c `unix_seq_show`): `Num RefCount Protocol
//!   Flags Type St Inode Path`; the path may contain spaces, `@` starts an
//!   abstract name.
//! - `netlink` (net/netlink/af_netlink.c): `sk Eth Pid Groups Rmem Wmem Dump
//!   Locks Drops Inode`; `Eth` is the netlink protocol. Only bound sockets
//!   are listed.
//! - `packet` (net/packet/af_packet.c): `sk RefCnt Type Proto Iface R Rmem
//!   User Inode`.
//!
//! Sockets of families without a table here (vsock, AF_ALG, XDP, SCTP's
//! own files, …) are in none of them.

use serde::{Deserialize, Serialize};

use crate::parse::Malformed;

/// The layout of one `/proc/net` socket table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// IPv4 (`tcp`, `udp`, `raw`, …).
    Inet4,
    /// IPv6 (`tcp6`, `udp6`, `raw6`, …).
    Inet6,
    /// `unix`.
    Unix,
    /// `netlink`.
    Netlink,
    /// `packet`.
    Packet,
}

/// The socket tables memscope reads: file name under `/proc/net` (also the
/// protocol name shown) and its format.
pub const TABLES: &[(&str, TableFormat)] = &[
    ("tcp", TableFormat::Inet4),
    ("tcp6", TableFormat::Inet6),
    ("udp", TableFormat::Inet4),
    ("udp6", TableFormat::Inet6),
    ("udplite", TableFormat::Inet4),
    ("udplite6", TableFormat::Inet6),
    ("raw", TableFormat::Inet4),
    ("raw6", TableFormat::Inet6),
    ("icmp", TableFormat::Inet4),
    ("icmp6", TableFormat::Inet6),
    ("unix", TableFormat::Unix),
    ("netlink", TableFormat::Netlink),
    ("packet", TableFormat::Packet),
];

/// One socket as its table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Socket {
    /// Socket inode (`socket:[inode]`).
    pub inode: u64,
    /// The table it is in: `tcp`, `udp6`, `unix`, `netlink`, …
    pub protocol: String,
    /// Connection state: TCP state names (`LISTEN`, `ESTABLISHED`,
    /// `CLOSE_WAIT`, …) for inet tables; `unconnected`, `connecting`,
    /// `connected`, `disconnecting` (and `listening`) for unix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Local address, `127.0.0.1:8080` or `[::1]:53`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// Remote address (inet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Socket type or sub-protocol: `stream`, `dgram`, `seqpacket` (unix,
    /// packet); the netlink protocol (`route`, `audit`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Unix socket path (`@name` for abstract ones), when bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// All sockets of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketTable {
    /// Sockets with an inode (entries with inode 0, such as TIME_WAIT, have
    /// no file and are left out).
    pub sockets: Vec<Socket>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl SocketTable {
    /// Parse one table of the given format; `protocol` names its sockets.
    /// Never fails; malformed lines are listed.
    pub fn parse(text: &str, protocol: &str, format: TableFormat) -> SocketTable {
        let mut out = SocketTable::default();
        for (i, line) in text.lines().enumerate() {
            if i == 0 || line.trim().is_empty() {
                continue; // header
            }
            let parsed = match format {
                TableFormat::Inet4 => inet(line, protocol, false),
                TableFormat::Inet6 => inet(line, protocol, true),
                TableFormat::Unix => unix(line),
                TableFormat::Netlink => netlink(line),
                TableFormat::Packet => packet(line),
            };
            match parsed {
                Some(s) if s.inode == 0 => {}
                Some(s) => out.sockets.push(s),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }
}

/// TCP states by number (include/net/tcp_states.h).
pub fn tcp_state_name(st: u8) -> Option<&'static str> {
    Some(match st {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => return None,
    })
}

/// Netlink protocols by number (include/uapi/linux/netlink.h).
pub fn netlink_protocol_name(p: u32) -> Option<&'static str> {
    Some(match p {
        0 => "route",
        2 => "usersock",
        4 => "sock_diag",
        6 => "xfrm",
        7 => "selinux",
        9 => "audit",
        10 => "fib_lookup",
        11 => "connector",
        12 => "netfilter",
        15 => "kobject_uevent",
        16 => "generic",
        18 => "scsitransport",
        19 => "ecryptfs",
        20 => "rdma",
        21 => "crypto",
        22 => "smc",
        _ => return None,
    })
}

fn socket_type_name(t: u32) -> String {
    match t {
        1 => "stream".into(),
        2 => "dgram".into(),
        3 => "raw".into(),
        5 => "seqpacket".into(),
        other => format!("type {other}"),
    }
}

fn inet(line: &str, protocol: &str, v6: bool) -> Option<Socket> {
    let toks: Vec<&str> = line.split_ascii_whitespace().collect();
    if !toks.first()?.ends_with(':') {
        return None;
    }
    let local = inet_addr(toks.get(1)?, v6)?;
    let remote = inet_addr(toks.get(2)?, v6)?;
    let st = u8::from_str_radix(toks.get(3)?, 16).ok()?;
    let inode = toks.get(9)?.parse().ok()?;
    let state = if protocol.starts_with("tcp") {
        tcp_state_name(st).map(str::to_string).unwrap_or_else(|| format!("state {st:#04x}"))
    } else if st == 0x01 {
        "connected".to_string()
    } else {
        "unconnected".to_string()
    };
    Some(Socket {
        inode,
        protocol: protocol.to_string(),
        state: Some(state),
        local: Some(local),
        remote: Some(remote),
        kind: None,
        path: None,
    })
}

/// `0100007F:A165` → `127.0.0.1:41317`; 32 hex digits for IPv6. The words
/// are in the byte order of the machine that wrote the file, assumed to be
/// the reader's.
fn inet_addr(s: &str, v6: bool) -> Option<String> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    if v6 {
        if addr.len() != 32 {
            return None;
        }
        let mut b = [0u8; 16];
        for i in 0..4 {
            b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
        }
        Some(format!("[{}]:{port}", std::net::Ipv6Addr::from(b)))
    } else {
        if addr.len() != 8 {
            return None;
        }
        Some(format!("{}:{port}", std::net::Ipv4Addr::from(word(0)?)))
    }
}

/// `0000000083025305: 00000002 00000000 00010000 0001 01 35139 /tmp/ms test.sock`
fn unix(line: &str) -> Option<Socket> {
    let mut rest = line.trim_start();
    let mut toks = Vec::with_capacity(7);
    for _ in 0..7 {
        let end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        toks.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    if !toks[0].ends_with(':') {
        return None;
    }
    let flags = u32::from_str_radix(toks[3], 16).ok()?;
    let typ = u32::from_str_radix(toks[4], 16).ok()?;
    let st = u8::from_str_radix(toks[5], 16).ok()?;
    let inode = toks[6].parse().ok()?;
    // __SO_ACCEPTCON (include/linux/net.h): a listening socket.
    let state = if flags & 0x10000 != 0 {
        "listening"
    } else {
        match st {
            1 => "unconnected",
            2 => "connecting",
            3 => "connected",
            4 => "disconnecting",
            _ => "unknown",
        }
    };
    let path = rest.trim_end();
    Some(Socket {
        inode,
        protocol: "unix".into(),
        state: Some(state.into()),
        local: None,
        remote: None,
        kind: Some(socket_type_name(typ)),
        path: (!path.is_empty()).then(|| path.to_string()),
    })
}

/// `0000000054bcfa69 4   0          00000000 0        0        0     2        0        1515`
fn netlink(line: &str) -> Option<Socket> {
    let toks: Vec<&str> = line.split_ascii_whitespace().collect();
    let proto: u32 = toks.get(1)?.parse().ok()?;
    let inode = toks.get(9)?.parse().ok()?;
    let kind =
        netlink_protocol_name(proto).map(str::to_string).unwrap_or_else(|| format!("protocol {proto}"));
    Some(Socket {
        inode,
        protocol: "netlink".into(),
        state: None,
        local: None,
        remote: None,
        kind: Some(kind),
        path: None,
    })
}

/// `0000000031e4a28c 3      3    0003   0     1 4      0      35144`
fn packet(line: &str) -> Option<Socket> {
    let toks: Vec<&str> = line.split_ascii_whitespace().collect();
    let typ: u32 = toks.get(2)?.parse().ok()?;
    u16::from_str_radix(toks.get(3)?, 16).ok()?;
    let inode = toks.get(8)?.parse().ok()?;
    Some(Socket {
        inode,
        protocol: "packet".into(),
        state: None,
        local: None,
        remote: None,
        kind: Some(socket_type_name(typ)),
        path: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Captured on a 6.18 x86_64 kernel (little-endian) from a process holding
    // a TCP listener and the accepted end of a connection its peer closed.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   1: 0100007F:A165 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 35133 1 000000005f87bdf9 100 0 0 10 0
   2: 0100007F:A165 0100007F:925E 08 00000000:00000001 00:00000000 00000000     0        0 35135 1 0000000095039d51 20 4 0 10 -1
   3: 0100007F:A165 0100007F:925F 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
";

    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
15589: 00000000000000000000000001000000:C766 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 35136 2 000000005645faef 0
";

    const UNIX: &str = "Num       RefCount Protocol Flags    Type St Inode Path
0000000078fdcc64: 00000003 00000000 00000000 0001 03 35142
0000000083025305: 00000002 00000000 00010000 0001 01 35139 /tmp/ms test.sock
00000000aa9ca21e: 00000002 00000000 00000000 0002 01 35140 @abstract-name
";

    const NETLINK: &str =
        "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
0000000054bcfa69 4   0          00000000 0        0        0     2        0        1515    
";

    const PACKET: &str = "sk               RefCnt Type Proto  Iface R Rmem   User   Inode
0000000031e4a28c 3      3    0003   0     1 4      0      35144 
";

    #[test]
    fn tcp_states_and_addresses() {
        let t = SocketTable::parse(TCP, "tcp", TableFormat::Inet4);
        assert!(t.malformed.is_empty(), "{:?}", t.malformed);
        // The TIME_WAIT entry has no inode: no descriptor can hold it.
        assert_eq!(t.sockets.len(), 2);
        let listen = &t.sockets[0];
        assert_eq!(listen.inode, 35133);
        assert_eq!(listen.state.as_deref(), Some("LISTEN"));
        if cfg!(target_endian = "little") {
            assert_eq!(listen.local.as_deref(), Some("127.0.0.1:41317"));
            assert_eq!(t.sockets[1].remote.as_deref(), Some("127.0.0.1:37470"));
        }
        assert_eq!(t.sockets[1].state.as_deref(), Some("CLOSE_WAIT"));
    }

    #[test]
    fn udp6_loopback() {
        let t = SocketTable::parse(UDP6, "udp6", TableFormat::Inet6);
        assert_eq!(t.sockets.len(), 1);
        let s = &t.sockets[0];
        assert_eq!((s.inode, s.state.as_deref()), (35136, Some("unconnected")));
        if cfg!(target_endian = "little") {
            assert_eq!(s.local.as_deref(), Some("[::1]:51046"));
        }
    }

    #[test]
    fn unix_paths_with_spaces_and_abstract_names() {
        let t = SocketTable::parse(UNIX, "unix", TableFormat::Unix);
        assert!(t.malformed.is_empty(), "{:?}", t.malformed);
        let s: Vec<_> = t.sockets.iter().map(|s| (s.inode, s.state.as_deref(), s.path.as_deref())).collect();
        assert_eq!(
            s,
            vec![
                (35142, Some("connected"), None),
                (35139, Some("listening"), Some("/tmp/ms test.sock")),
                (35140, Some("unconnected"), Some("@abstract-name")),
            ]
        );
        assert_eq!(t.sockets[2].kind.as_deref(), Some("dgram"));
    }

    #[test]
    fn netlink_and_packet() {
        let n = SocketTable::parse(NETLINK, "netlink", TableFormat::Netlink);
        assert_eq!(n.sockets[0].inode, 1515);
        assert_eq!(n.sockets[0].kind.as_deref(), Some("sock_diag"));
        let p = SocketTable::parse(PACKET, "packet", TableFormat::Packet);
        assert_eq!((p.sockets[0].inode, p.sockets[0].kind.as_deref()), (35144, Some("raw")));
    }

    #[test]
    fn broken_lines_are_listed() {
        let t = SocketTable::parse(
            "header\n 1: zz:1 00000000:0000 0A\nnot a socket\n",
            "tcp",
            TableFormat::Inet4,
        );
        assert!(t.sockets.is_empty());
        assert_eq!(t.malformed.len(), 2);
        let u = SocketTable::parse("header\n0000: 1 2\n", "unix", TableFormat::Unix);
        assert_eq!(u.malformed.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            for (name, format) in TABLES {
                let _ = SocketTable::parse(&s, name, *format);
            }
        }

        #[test]
        fn never_panics_on_inet_like_lines(s in "h\n *[0-9]+: [0-9A-F:]{0,40} [0-9A-F:]{0,40} [0-9A-F]{0,3}[ 0-9A-F:]{0,60}") {
            let _ = SocketTable::parse(&s, "tcp6", TableFormat::Inet6);
            let _ = SocketTable::parse(&s, "tcp", TableFormat::Inet4);
        }
    }
}
