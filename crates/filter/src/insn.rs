//! Classic BPF instructions: the `struct sock_filter` layout, opcode constants and
//! the `tcpdump -d` style disassembler (libpcap's `bpf_image()`).

use std::fmt::Write as _;

/// One classic BPF instruction, laid out exactly like `struct sock_filter` /
/// `struct bpf_insn` so a program can be handed to `SO_ATTACH_FILTER` as is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Insn {
    /// Opcode (class | size/op | mode/source).
    pub code: u16,
    /// Jump offset when the condition is true (relative to the next instruction).
    pub jt: u8,
    /// Jump offset when the condition is false.
    pub jf: u8,
    /// Generic field: constant, offset, memory slot.
    pub k: u32,
}

impl Insn {
    /// A non-jump statement.
    #[must_use]
    pub const fn stmt(code: u16, k: u32) -> Self {
        Self {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A jump instruction.
    #[must_use]
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        Self { code, jt, jf, k }
    }
}

// Instruction classes.
pub const BPF_LD: u16 = 0x00;
pub const BPF_LDX: u16 = 0x01;
pub const BPF_ST: u16 = 0x02;
pub const BPF_STX: u16 = 0x03;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_MISC: u16 = 0x07;

// Load sizes.
pub const BPF_W: u16 = 0x00;
pub const BPF_H: u16 = 0x08;
pub const BPF_B: u16 = 0x10;

// Load modes.
pub const BPF_IMM: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_IND: u16 = 0x40;
pub const BPF_MEM: u16 = 0x60;
pub const BPF_LEN: u16 = 0x80;
pub const BPF_MSH: u16 = 0xa0;

// ALU operations.
pub const BPF_ADD: u16 = 0x00;
pub const BPF_SUB: u16 = 0x10;
pub const BPF_MUL: u16 = 0x20;
pub const BPF_DIV: u16 = 0x30;
pub const BPF_OR: u16 = 0x40;
pub const BPF_AND: u16 = 0x50;
pub const BPF_LSH: u16 = 0x60;
pub const BPF_RSH: u16 = 0x70;
pub const BPF_NEG: u16 = 0x80;
pub const BPF_MOD: u16 = 0x90;
pub const BPF_XOR: u16 = 0xa0;

// Jump operations.
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_JSET: u16 = 0x40;

// Operand sources.
pub const BPF_K: u16 = 0x00;
pub const BPF_X: u16 = 0x08;
/// Return-value source: the accumulator (`ret a`).
pub const BPF_A: u16 = 0x10;

// MISC operations.
pub const BPF_TAX: u16 = 0x00;
pub const BPF_TXA: u16 = 0x80;

/// Number of scratch memory slots (`M[0]`..`M[15]`).
pub const BPF_MEMWORDS: u32 = 16;
/// Largest accepted program.
pub const BPF_MAXINSNS: usize = 4096;

/// Linux's ancillary-data offsets: an absolute load at `SKF_AD_OFF + SKF_AD_*`
/// reads socket metadata instead of packet bytes (whatever the load width).
pub const SKF_AD_OFF: u32 = 0xffff_f000;
/// `skb->protocol` (host order), what LINUX_SLL2 carries at byte 0.
pub const SKF_AD_PROTOCOL: u32 = 0;
/// The packet type (`PACKET_HOST`, …, `PACKET_OUTGOING`).
pub const SKF_AD_PKTTYPE: u32 = 4;
/// The interface index.
pub const SKF_AD_IFINDEX: u32 = 8;
/// `PACKET_OUTGOING`: a packet this host sent.
pub const PACKET_OUTGOING: u32 = 4;

/// The operand of an absolute load as libpcap's `bpf_image` prints it: the
/// ancillary offsets by name (`[type]`), anything else as `[k]`.
fn abs_operand(k: u32) -> String {
    let name = match k.wrapping_sub(SKF_AD_OFF) {
        _ if k < SKF_AD_OFF => None,
        0 => Some("proto"),
        4 => Some("type"),
        8 => Some("ifidx"),
        12 => Some("nla"),
        16 => Some("nlan"),
        20 => Some("mark"),
        24 => Some("queue"),
        28 => Some("hatype"),
        32 => Some("rxhash"),
        36 => Some("cpu"),
        40 => Some("xor_x"),
        44 => Some("vlan_tci"),
        48 => Some("vlanp"),
        52 => Some("poff"),
        56 => Some("random"),
        60 => Some("vlan_tpid"),
        _ => None,
    };
    if let Some(n) = name {
        return format!("[{n}]");
    }
    format!("[{}]", signed(k))
}

/// Instruction class of an opcode.
#[must_use]
pub const fn class(code: u16) -> u16 {
    code & 0x07
}
/// Load size of an opcode.
#[must_use]
pub const fn size(code: u16) -> u16 {
    code & 0x18
}
/// Addressing mode of an opcode.
#[must_use]
pub const fn mode(code: u16) -> u16 {
    code & 0xe0
}
/// ALU/JMP operation of an opcode.
#[must_use]
pub const fn op(code: u16) -> u16 {
    code & 0xf0
}
/// Operand source (K or X) of an opcode.
#[must_use]
pub const fn src(code: u16) -> u16 {
    code & 0x08
}
/// Return value source of a RET opcode.
#[must_use]
pub const fn rval(code: u16) -> u16 {
    code & 0x18
}
/// MISC operation of an opcode.
#[must_use]
pub const fn miscop(code: u16) -> u16 {
    code & 0xf8
}

/// Reinterpret a `u32` as the `int` libpcap's `%d` formats print.
fn signed(k: u32) -> i32 {
    i32::from_ne_bytes(k.to_ne_bytes())
}

/// Render one instruction the way libpcap's `bpf_image()` does (`tcpdump -d`).
#[must_use]
pub fn image(insn: &Insn, n: usize) -> String {
    let k = insn.k;
    let (opname, operand): (&str, String) = match insn.code {
        c if c == BPF_RET | BPF_K => ("ret", format!("#{}", signed(k))),
        c if c == BPF_RET | BPF_A => ("ret", String::new()),
        c if c == BPF_LD | BPF_W | BPF_ABS => ("ld", abs_operand(k)),
        c if c == BPF_LD | BPF_H | BPF_ABS => ("ldh", abs_operand(k)),
        c if c == BPF_LD | BPF_B | BPF_ABS => ("ldb", abs_operand(k)),
        c if c == BPF_LD | BPF_W | BPF_LEN => ("ld", "#pktlen".to_string()),
        c if c == BPF_LD | BPF_W | BPF_IND => ("ld", format!("[x + {}]", signed(k))),
        c if c == BPF_LD | BPF_H | BPF_IND => ("ldh", format!("[x + {}]", signed(k))),
        c if c == BPF_LD | BPF_B | BPF_IND => ("ldb", format!("[x + {}]", signed(k))),
        c if c == BPF_LD | BPF_IMM => ("ld", format!("#0x{k:x}")),
        c if c == BPF_LDX | BPF_IMM => ("ldx", format!("#0x{k:x}")),
        c if c == BPF_LDX | BPF_W | BPF_LEN => ("ldx", "#pktlen".to_string()),
        c if c == BPF_LDX | BPF_MSH | BPF_B => ("ldxb", format!("4*([{}]&0xf)", signed(k))),
        c if c == BPF_LD | BPF_MEM => ("ld", format!("M[{}]", signed(k))),
        c if c == BPF_LDX | BPF_MEM => ("ldx", format!("M[{}]", signed(k))),
        c if c == BPF_ST => ("st", format!("M[{}]", signed(k))),
        c if c == BPF_STX => ("stx", format!("M[{}]", signed(k))),
        c if c == BPF_JMP | BPF_JA => {
            let target = i64::try_from(n).unwrap_or(i64::MAX) + 1 + i64::from(signed(k));
            ("ja", format!("{target}"))
        }
        c if c == BPF_JMP | BPF_JGT | BPF_K => ("jgt", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JGE | BPF_K => ("jge", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JEQ | BPF_K => ("jeq", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JSET | BPF_K => ("jset", format!("#0x{k:x}")),
        c if c == BPF_JMP | BPF_JGT | BPF_X => ("jgt", "x".to_string()),
        c if c == BPF_JMP | BPF_JGE | BPF_X => ("jge", "x".to_string()),
        c if c == BPF_JMP | BPF_JEQ | BPF_X => ("jeq", "x".to_string()),
        c if c == BPF_JMP | BPF_JSET | BPF_X => ("jset", "x".to_string()),
        c if c == BPF_ALU | BPF_ADD | BPF_X => ("add", "x".to_string()),
        c if c == BPF_ALU | BPF_SUB | BPF_X => ("sub", "x".to_string()),
        c if c == BPF_ALU | BPF_MUL | BPF_X => ("mul", "x".to_string()),
        c if c == BPF_ALU | BPF_DIV | BPF_X => ("div", "x".to_string()),
        c if c == BPF_ALU | BPF_MOD | BPF_X => ("mod", "x".to_string()),
        c if c == BPF_ALU | BPF_AND | BPF_X => ("and", "x".to_string()),
        c if c == BPF_ALU | BPF_OR | BPF_X => ("or", "x".to_string()),
        c if c == BPF_ALU | BPF_XOR | BPF_X => ("xor", "x".to_string()),
        c if c == BPF_ALU | BPF_LSH | BPF_X => ("lsh", "x".to_string()),
        c if c == BPF_ALU | BPF_RSH | BPF_X => ("rsh", "x".to_string()),
        c if c == BPF_ALU | BPF_ADD | BPF_K => ("add", format!("#{}", signed(k))),
        c if c == BPF_ALU | BPF_SUB | BPF_K => ("sub", format!("#{}", signed(k))),
        c if c == BPF_ALU | BPF_MUL | BPF_K => ("mul", format!("#{}", signed(k))),
        c if c == BPF_ALU | BPF_DIV | BPF_K => ("div", format!("#{}", signed(k))),
        c if c == BPF_ALU | BPF_MOD | BPF_K => ("mod", format!("#{}", signed(k))),
        c if c == BPF_ALU | BPF_AND | BPF_K => ("and", format!("#0x{k:x}")),
        c if c == BPF_ALU | BPF_OR | BPF_K => ("or", format!("#0x{k:x}")),
        c if c == BPF_ALU | BPF_XOR | BPF_K => ("xor", format!("#0x{k:x}")),
        c if c == BPF_ALU | BPF_LSH | BPF_K => ("lsh", format!("#{}", signed(k))),
        c if c == BPF_ALU | BPF_RSH | BPF_K => ("rsh", format!("#{}", signed(k))),
        c if c == BPF_ALU | BPF_NEG => ("neg", String::new()),
        c if c == BPF_MISC | BPF_TAX => ("tax", String::new()),
        c if c == BPF_MISC | BPF_TXA => ("txa", String::new()),
        c => ("unimp", format!("0x{c:x}")),
    };
    let mut out = String::new();
    if class(insn.code) == BPF_JMP && op(insn.code) != BPF_JA {
        let jt = n + 1 + usize::from(insn.jt);
        let jf = n + 1 + usize::from(insn.jf);
        let _ = write!(out, "({n:03}) {opname:<8} {operand:<16} jt {jt}\tjf {jf}");
    } else {
        let _ = write!(out, "({n:03}) {opname:<8} {operand}");
    }
    out
}

/// Disassemble a whole program, one line per instruction, like `tcpdump -d`.
#[must_use]
pub fn dump(insns: &[Insn]) -> String {
    let mut out = String::new();
    for (n, insn) in insns.iter().enumerate() {
        out.push_str(&image(insn, n));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(insn: Insn, n: usize, expected: &str) {
        assert_eq!(image(&insn, n), expected);
    }

    #[test]
    fn images_match_bpf_image() {
        check(
            Insn::stmt(BPF_LD | BPF_H | BPF_ABS, 12),
            0,
            "(000) ldh      [12]",
        );
        check(
            Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 3),
            1,
            "(001) jeq      #0x800           jt 2\tjf 5",
        );
        check(
            Insn::stmt(BPF_RET | BPF_K, 262_144),
            6,
            "(006) ret      #262144",
        );
        check(
            Insn::stmt(BPF_LDX | BPF_MSH | BPF_B, 14),
            13,
            "(013) ldxb     4*([14]&0xf)",
        );
        check(
            Insn::stmt(BPF_LD | BPF_H | BPF_IND, 14),
            14,
            "(014) ldh      [x + 14]",
        );
        check(Insn::stmt(BPF_MISC | BPF_TXA, 0), 14, "(014) txa      ");
        check(
            Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0),
            0,
            "(000) ld       #pktlen",
        );
        check(
            Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0),
            1,
            "(001) and      #0xf0",
        );
        check(
            Insn::stmt(BPF_ALU | BPF_SUB | BPF_K, 1),
            1,
            "(001) sub      #1",
        );
        check(Insn::stmt(BPF_JMP | BPF_JA, 3), 18, "(018) ja       22");
        check(
            Insn::jump(BPF_JMP | BPF_JEQ | BPF_X, 0, 12, 0),
            15,
            "(015) jeq      x                jt 28\tjf 16",
        );
        check(Insn::stmt(BPF_ST, 1), 31, "(031) st       M[1]");
        check(Insn::stmt(0xffff, 0), 0, "(000) unimp    0xffff");
    }
}
