//! The classic BPF program a heartbeat socket carries, so the kernel drops a datagram whose
//! source address is not one of the manifest's for that link before it is queued: a flood from
//! elsewhere then fills no receive buffer and wakes nobody. One datagram in [`SAMPLE_EVERY`]
//! from a foreign source still passes, cut to [`SAMPLE_BYTES`], so the status and the journal
//! can say where a flood comes from (the receive path counts each sample that many times).
//!
//! Pure: the program is plain data here, tested below with a small interpreter; attaching it
//! is `socket.rs`'s job.

use std::net::IpAddr;

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Operation.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

// linux/filter.h and linux/bpf_common.h.
const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
const JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const AND_K: u16 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
/// `SKF_NET_OFF`: offsets from the network (IP) header; on a UDP socket, offset 0 is the UDP
/// header, so the source address is only reachable this way.
const NET_OFF: u32 = 0xfff0_0000;
/// `SKF_AD_OFF + SKF_AD_RANDOM`: a random 32-bit number.
const AD_RANDOM: u32 = 0xffff_f000 + 56;
/// IPv4: the source address is at byte 12 of the header; IPv6: at byte 8.
const V4_SRC: u32 = 12;
const V6_SRC: u32 = 8;

/// One foreign datagram in this many is passed (cut short) to be counted by source.
pub const SAMPLE_EVERY: u32 = 64;
/// How much of a sampled foreign datagram is kept: enough to see it, too little to decode.
pub const SAMPLE_BYTES: u32 = 1;
/// What an accepted datagram keeps: all of it.
const WHOLE: u32 = 0xffff;

/// At most this many addresses per program: a jump offset is one byte, and an IPv6 address
/// takes eight instructions. The manifest allows 32 nodes.
pub const MAX_SOURCES: usize = 30;

/// The program accepting only datagrams from `sources` (all of one family: the link's), or
/// `None` if there are none or too many to filter on.
pub fn sources_only(sources: &[IpAddr]) -> Option<Vec<Insn>> {
    if sources.is_empty() || sources.len() > MAX_SOURCES {
        return None;
    }
    let v6 = sources[0].is_ipv6();
    if sources.iter().any(|s| s.is_ipv6() != v6) {
        return None;
    }
    let mut p = Vec::new();
    if v6 {
        v6_matches(&mut p, sources);
    } else {
        v4_matches(&mut p, sources);
    }
    // No match: sample one in SAMPLE_EVERY, drop the rest.
    p.push(ins(LD_W_ABS, 0, 0, AD_RANDOM));
    p.push(ins(AND_K, 0, 0, SAMPLE_EVERY - 1));
    p.push(ins(JEQ_K, 1, 0, 0));
    p.push(ins(RET_K, 0, 0, 0));
    p.push(ins(RET_K, 0, 0, SAMPLE_BYTES));
    p.push(ins(RET_K, 0, 0, WHOLE)); // accept: the last instruction
    Some(p)
}

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// Offset of a jump from instruction `at` to the accepting one, the program's last, when
/// `after` instructions of the match section follow `at` (then six of the tail, less one).
fn to_accept(after: usize) -> u8 {
    u8::try_from(after + 5).unwrap_or(u8::MAX)
}

/// Loads the source address once, then one comparison per allowed address.
fn v4_matches(p: &mut Vec<Insn>, sources: &[IpAddr]) {
    p.push(ins(LD_W_ABS, 0, 0, NET_OFF + V4_SRC));
    let words: Vec<u32> = sources
        .iter()
        .filter_map(|s| match s {
            IpAddr::V4(a) => Some(u32::from(*a)),
            IpAddr::V6(_) => None,
        })
        .collect();
    for (i, w) in words.iter().enumerate() {
        let after = words.len() - i - 1;
        p.push(ins(JEQ_K, to_accept(after), 0, *w));
    }
}

/// Per address, four loads and comparisons; a mismatch skips to the next address.
fn v6_matches(p: &mut Vec<Insn>, sources: &[IpAddr]) {
    let addrs: Vec<[u32; 4]> = sources
        .iter()
        .filter_map(|s| match s {
            IpAddr::V6(a) => {
                let o = a.octets();
                Some(std::array::from_fn(|i| {
                    u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
                }))
            }
            IpAddr::V4(_) => None,
        })
        .collect();
    for (i, words) in addrs.iter().enumerate() {
        let blocks_after = addrs.len() - i - 1;
        for (j, w) in words.iter().enumerate() {
            let k = NET_OFF + V6_SRC + 4 * u32::try_from(j).unwrap_or(0);
            p.push(ins(LD_W_ABS, 0, 0, k));
            // Instructions of this block after this comparison.
            let rest = 2 * (3 - j);
            if j == 3 {
                p.push(ins(JEQ_K, to_accept(8 * blocks_after), 0, *w));
            } else {
                p.push(ins(JEQ_K, 0, u8::try_from(rest).unwrap_or(0), *w));
            }
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
