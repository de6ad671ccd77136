//! End-to-end tests of `pcapx stats`, `describe` and `unique`.

mod common;

use common::{pcapx, stderr};

#[test]
fn unknown_field_names_say_what_was_meant() {
    for args in [
        &["stats", "fixtures/tutorial.pcap", "--group-by", "srcc"][..],
        &[
            "stats",
            "fixtures/tutorial.pcap",
            "--group-by",
            "dst",
            "--sum",
            "srcc",
        ],
        &["describe", "fixtures/tutorial.pcap", "--field", "srcc"],
        &["unique", "fixtures/tutorial.pcap", "--field", "srcc"],
    ] {
        let o = pcapx(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&o),
            "pcapx: unknown field 'srcc' (did you mean 'src'?)\n",
            "{args:?}"
        );
    }
}
