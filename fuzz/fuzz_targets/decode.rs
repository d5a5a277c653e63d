//! Fuzzes the heartbeat decoder: raw input meets the checks before the MAC; the same input
//! framed as a format 2 or 3 page and signed here meets the parsers behind it, with the names
//! of a real manifest to read hashes back. A page's index is within its count, the count
//! within the format's; pages gather into whole datagrams without a panic; whatever decodes as
//! a one-page datagram must encode and decode to the same datagram.
//! Run: `fuzz/run 60 decode` (see README).
#![no_main]

use haagent::auth::KeyRing;
use haagent::protocol::wire::pages::Assembler;
use haagent::protocol::wire::{self, Names, Page};
use libfuzzer_sys::fuzz_target;

const RING: &str = "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

fuzz_target!(|data: &[u8]| {
    let keys = KeyRing::parse(RING).expect("the fixed ring parses");
    let m = &haagent_fuzz::manifests::all()[0];
    let names = Names::of(m);
    if let Ok(page) = wire::decode(data, &keys, &m.cluster, &names) {
        well_formed(&page);
    }
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let version = 2 + (first & 1);
    let mut body = wire::MAGIC.to_vec();
    body.extend_from_slice(&[version, (first >> 1) % 3, 1, 0]);
    body.extend_from_slice(rest);
    let sealed = wire::seal(body, keys.signing());
    let cluster = if first & 2 == 0 { "fuzz" } else { &m.cluster };
    let Ok(page) = wire::decode(&sealed, &keys, cluster, &names) else {
        return;
    };
    well_formed(&page);
    // The same page twice, then a copy claiming the next index: gathering never panics.
    let mut pages = Assembler::default();
    let _ = pages.push(page.clone());
    let _ = pages.push(page.clone());
    if page.index + 1 < page.count {
        let next = Page {
            index: page.index + 1,
            ..page.clone()
        };
        if let Some(whole) = pages.push(next) {
            assert_eq!(whole.sender, page.datagram.sender);
        }
    }
    // Names read back as unknown hashes would not hash the same: only check datagrams whose
    // lists are empty or of format 2.
    let d = &page.datagram;
    let no_lists = d.groups.is_empty() && d.seen.is_empty() && d.intents.is_empty();
    if page.count == 1
        && (version == 2 || no_lists)
        && let Ok(again) = wire::encode(d, keys.signing(), version)
    {
        let back = wire::decode(&again[0], &keys, cluster, &names).map(|p| p.datagram);
        assert_eq!(back.as_ref(), Ok(d));
    }
});

fn well_formed(page: &Page) {
    assert!(
        page.count >= 1 && page.count <= wire::MAX_PAGES,
        "{} pages",
        page.count
    );
    assert!(
        page.index < page.count,
        "page {} of {}",
        page.index,
        page.count
    );
}
