//! One control-socket request line, as the engine decodes it: decoding never
//! panics, and a decoded request encodes back to an equal one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_api::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<Request>(data) {
        let line = serde_json::to_vec(&req).expect("a request encodes");
        let again: Request = serde_json::from_slice(&line).expect("its encoding decodes");
        assert_eq!(again, req);
    }
});
