//! Property tests: the interpreter never panics on arbitrary programs and
//! packets, the validator rejects malformed programs, and the compiler never
//! panics on arbitrary input.

use pcapx_filter::insn::{self, BPF_JMP, BPF_K, BPF_LD, BPF_MEM, BPF_RET, BPF_ST};
use pcapx_filter::{Insn, Program, ValidateError, compile, run, validate};
use proptest::prelude::*;

fn any_insn() -> impl Strategy<Value = Insn> {
    // Mostly real opcodes, some random ones.
    let codes: Vec<u16> = (0u16..=0xff).collect();
    (
        prop::sample::select(codes),
        any::<u8>(),
        any::<u8>(),
        prop_oneof![0u32..64, any::<u32>()],
    )
        .prop_map(|(code, jt, jf, k)| Insn { code, jt, jf, k })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn run_never_panics(prog in prop::collection::vec(any_insn(), 0..40),
                        pkt in prop::collection::vec(any::<u8>(), 0..128),
                        wirelen in any::<u32>()) {
        let raw = run(&prog, &pkt, wirelen);
        if validate(&prog).is_ok() {
            // a Program runs its decoded form: the same result
            let p = Program::from_insns(prog.clone(), 1).unwrap();
            prop_assert_eq!(p.run(&pkt, wirelen), raw);
        }
    }

    #[test]
    fn validator_rejects_bad_jumps(len in 1usize..20, at in 0usize..20, off in any::<u8>()) {
        let at = at % len;
        let mut prog = vec![Insn::stmt(BPF_RET | BPF_K, 0); len];
        prog[at] = Insn::jump(BPF_JMP | insn::BPF_JEQ | BPF_K, 0, off, 0);
        let ok = at + 1 + usize::from(off) < len && at + 1 < len;
        prop_assert_eq!(validate(&prog).is_ok(), ok);
    }

    #[test]
    fn validator_rejects_bad_slots(slot in 16u32..) {
        let prog = vec![Insn::stmt(BPF_ST, slot), Insn::stmt(BPF_RET | BPF_K, 0)];
        prop_assert_eq!(validate(&prog), Err(ValidateError::BadMemSlot { pc: 0, k: slot }));
        let prog = vec![Insn::stmt(BPF_LD | BPF_MEM, slot), Insn::stmt(BPF_RET | BPF_K, 0)];
        prop_assert!(validate(&prog).is_err());
    }

    #[test]
    fn validator_requires_final_ret(k in any::<u32>()) {
        let prog = vec![Insn::stmt(BPF_LD | insn::BPF_IMM, k)];
        prop_assert_eq!(validate(&prog), Err(ValidateError::NoFinalReturn));
    }

    #[test]
    fn compile_never_panics(words in prop::collection::vec(prop::sample::select(vec![
        "tcp", "udp", "ip", "ip6", "port", "80", "host", "1.2.3.4", "::1", "and", "or", "not", "(", ")",
        "src", "dst", "net", "10.0.0.0/8", "vlan", "mpls", "pppoes", "geneve", "vxlan", "[", "]", ":", "2", "=", "!=", "+", "-",
        "*", "/", "0", "&", "|", "^", "<<", ">>", "len", "ether", "proto", "protochain", "portrange", "1-5",
        "icmp", "tcpflags", "tcp-syn", "less", "greater", "broadcast", "multicast", "mask", "255.0.0.0",
        "aa:bb:cc:dd:ee:ff", "\\tcp", "gateway", "inbound", "llc", "arp", "rarp", "sctp", "icmp6",
    ]), 0..12), lt in prop::sample::select(vec![0u32, 1, 12, 101, 108, 113, 228, 229, 276]),
       pkt in prop::collection::vec(any::<u8>(), 0..96)) {
        let expr = words.join(" ");
        if let Ok(p) = compile(&expr, lt, 0) {
            prop_assert!(validate(p.insns()).is_ok());
            let _ = p.matches(&pkt, 96);
        }
    }
}
