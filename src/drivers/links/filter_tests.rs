//! The filter run by a small interpreter of the instructions it uses, on IP headers built
//! here, the way the kernel runs it on a UDP socket (offset 0 is the UDP header).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

/// What the program returns for a datagram from `src` (0: dropped), with `random` as the
/// kernel's random number.
fn run(p: &[Insn], src: IpAddr, random: u32) -> u32 {
    let header = match src {
        IpAddr::V4(a) => {
            let mut h = vec![0x45u8; 20];
            h[12..16].copy_from_slice(&a.octets());
            h
        }
        IpAddr::V6(a) => {
            let mut h = vec![0x60u8; 40];
            h[8..24].copy_from_slice(&a.octets());
            h
        }
    };
    let (mut acc, mut pc) = (0u32, 0usize);
    for _ in 0..1000 {
        let i = p[pc];
        pc += 1;
        match i.code {
            LD_W_ABS if i.k == AD_RANDOM => acc = random,
            LD_W_ABS => {
                let at = (i.k - NET_OFF) as usize;
                acc = u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
            }
            AND_K => acc &= i.k,
            JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
            RET_K => return i.k,
            other => panic!("unexpected opcode {other:#x}"),
        }
    }
    panic!("the program does not end");
}

fn v4(last: u8) -> IpAddr {
    Ipv4Addr::new(10, 98, 90, last).into()
}

fn v6(last: u16) -> IpAddr {
    Ipv6Addr::new(0xfd98, 90, 0, 0, 0, 0, 0, last).into()
}

#[test]
fn ipv4_sources_pass_whole_others_are_dropped_or_sampled() {
    let allowed = [v4(1), v4(2), v4(3)];
    let p = sources_only(&allowed).unwrap();
    for a in allowed {
        assert_eq!(run(&p, a, 5), WHOLE, "{a}");
    }
    assert_eq!(run(&p, v4(100), 5), 0, "a stranger is dropped");
    assert_eq!(
        run(&p, v4(100), 64 * 7),
        SAMPLE_BYTES,
        "one in 64 is sampled"
    );
    assert_eq!(run(&p, Ipv4Addr::new(10, 98, 91, 1).into(), 3), 0);
}

#[test]
fn ipv6_sources_match_on_all_four_words() {
    let allowed = [v6(1), v6(2)];
    let p = sources_only(&allowed).unwrap();
    for a in allowed {
        assert_eq!(run(&p, a, 1), WHOLE, "{a}");
    }
    // Differs from an allowed address in one word only, each word in turn.
    for word in 0..4 {
        let mut seg = Ipv6Addr::new(0xfd98, 90, 0, 0, 0, 0, 0, 1).segments();
        seg[word * 2] ^= 1;
        let near = IpAddr::V6(Ipv6Addr::from(seg));
        assert_eq!(run(&p, near, 1), 0, "{near}");
        assert_eq!(run(&p, near, 0), SAMPLE_BYTES, "{near}");
    }
}

#[test]
fn the_largest_cluster_still_fits_the_jump_offsets() {
    let many4: Vec<IpAddr> = (1..=MAX_SOURCES as u8).map(v4).collect();
    let many6: Vec<IpAddr> = (1..=MAX_SOURCES as u16).map(v6).collect();
    for (many, stranger) in [(many4, v4(200)), (many6, v6(999))] {
        let p = sources_only(&many).unwrap();
        for a in &many {
            assert_eq!(run(&p, *a, 1), WHOLE, "{a}");
        }
        assert_eq!(run(&p, stranger, 1), 0);
    }
}

#[test]
fn no_program_when_it_cannot_filter() {
    assert_eq!(sources_only(&[]), None, "no addresses");
    assert_eq!(sources_only(&[v4(1), v6(1)]), None, "mixed families");
    let too_many: Vec<IpAddr> = (1..=MAX_SOURCES as u8 + 1).map(v4).collect();
    assert_eq!(sources_only(&too_many), None);
}
