//! A proptest strategy for arbitrary values (feature `proptest`), so the
//! crates built on bencode can feed their decoders bencode-shaped input.

use proptest::prelude::*;

use crate::Value;

/// Arbitrary values up to four levels deep with up to six items per
/// container: every one encodes and decodes back within [`crate::Limits::DEFAULT`].
pub fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..8),
                inner,
                0..6
            )
            .prop_map(Value::Dict),
        ]
    })
}
