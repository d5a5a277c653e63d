//! Fuzzes the heartbeat decoder: raw input meets the checks before the MAC; the same input
//! framed and signed here meets the parser behind it. Whatever decodes must encode and decode
//! to the same datagram. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run decode` (see README).
#![no_main]

use haagent::auth::KeyRing;
use haagent::protocol::wire;
use libfuzzer_sys::fuzz_target;

const RING: &str = "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

fuzz_target!(|data: &[u8]| {
    let keys = KeyRing::parse(RING).expect("the fixed ring parses");
    let _ = wire::decode(data, &keys, "fuzz");
    let Some((&kind, rest)) = data.split_first() else { return };
    let mut body = wire::MAGIC.to_vec();
    body.extend_from_slice(&[wire::VERSION, kind % 3, 1, 0]);
    body.extend_from_slice(rest);
    if let Ok(d) = wire::decode(&wire::seal(body, keys.signing()), &keys, "fuzz") {
        let again = wire::encode(&d, keys.signing());
        assert_eq!(wire::decode(&again, &keys, "fuzz"), Ok(d));
    }
});
