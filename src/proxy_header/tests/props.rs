//! The contract (`check_contract`) on generated and mutated headers, and
//! on noise: ppp builds the headers, proptest varies them.

use std::net::{Ipv4Addr, Ipv6Addr};

use ppp::v2::Builder;
use proptest::prelude::*;

use super::*;

/// A v1 line (TCP4, TCP6, or UNKNOWN with any tail) from ppp's Display.
fn v1_header() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            any::<Ipv4Addr>(),
            any::<Ipv4Addr>(),
            any::<u16>(),
            any::<u16>()
        )
            .prop_map(|(s, d, sp, dp)| ppp::v1::Addresses::new_tcp4(s, d, sp, dp)
                .to_string()
                .into_bytes()),
        (
            any::<Ipv6Addr>(),
            any::<Ipv6Addr>(),
            any::<u16>(),
            any::<u16>()
        )
            .prop_map(|(s, d, sp, dp)| ppp::v1::Addresses::new_tcp6(s, d, sp, dp)
                .to_string()
                .into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..100)
            // No CR in the tail: that would end the line early.
            .prop_map(|tail| {
                let tail: Vec<u8> = tail
                    .into_iter()
                    .map(|b| if b == b'\r' { b' ' } else { b })
                    .collect();
                [&b"PROXY UNKNOWN "[..], &tail, b"\r\n"].concat()
            }),
    ]
}

/// A v2 header from ppp's Builder: any command and transport, IPv4, IPv6 or
/// no addresses, and some TLVs.
fn v2_header() -> impl Strategy<Value = Vec<u8>> {
    let addresses = prop_oneof![
        any::<(SocketAddr, SocketAddr)>().prop_map(ppp::v2::Addresses::from),
        Just(ppp::v2::Addresses::Unspecified),
    ];
    let tlvs = proptest::collection::vec(
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)),
        0..4,
    );
    (0x20u8..0x22, 0u8..3, addresses, tlvs).prop_map(
        |(version_command, transport, addresses, tlvs)| {
            let mut builder = Builder::new(
                version_command,
                addresses.address_family() as u8 | transport,
            )
            .write_payload(addresses)
            .unwrap();
            for (kind, value) in &tlvs {
                builder = builder.write_tlv(*kind, value).unwrap();
            }
            builder.build().unwrap()
        },
    )
}

/// Headers, perhaps with one byte changed, then perhaps payload; or noise.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![v1_header(), v2_header()];
    let mutated =
        (header, any::<Option<(prop::sample::Index, u8)>>()).prop_map(|(mut bytes, change)| {
            if let Some((at, byte)) = change {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes
        });
    let payload = proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        4 => (mutated, payload).prop_map(|(header, payload)| [header, payload].concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The contract on generated, mutated and random inputs.
    #[test]
    fn contract_holds(input in input()) {
        check_contract(&input);
    }

    /// Every header ppp builds is accepted with its exact length.
    #[test]
    fn unmutated_headers_parse(header in prop_oneof![v1_header(), v2_header()], payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let input = [&header[..], &payload].concat();
        match parse(&input) {
            Parsed::Proxied { len, .. } | Parsed::Local { len } => prop_assert_eq!(len, header.len()),
            // Only a bad UNKNOWN tail (not UTF-8, or a CR in it) is refused.
            other => prop_assert!(header.starts_with(b"PROXY UNKNOWN "), "{:?}: {:?}", other, header),
        }
    }
}
