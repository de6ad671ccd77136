//! The classic BPF machine: a validator (libpcap's `bpf_validate()` rules) and a
//! safe interpreter with `bpf_filter()` semantics. Running never allocates and
//! never panics: a load outside the captured bytes or a division by zero in X
//! makes the program return 0 (reject), exactly as libpcap does.

use crate::insn::{
    BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA,
    BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH,
    BPF_MAXINSNS, BPF_MEM, BPF_MEMWORDS, BPF_MISC, BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR,
    BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX, BPF_TXA, BPF_W, BPF_X, BPF_XOR, Insn,
    class, miscop, mode, op, rval, size, src,
};

/// Why a program was refused by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// No instructions at all.
    #[error("empty program")]
    Empty,
    /// More than [`BPF_MAXINSNS`] instructions.
    #[error("program has {0} instructions, more than the maximum {BPF_MAXINSNS}")]
    TooLong(usize),
    /// An opcode the machine does not know.
    #[error("instruction {pc}: invalid opcode 0x{code:x}")]
    BadOpcode { pc: usize, code: u16 },
    /// A scratch memory index of 16 or more.
    #[error("instruction {pc}: memory slot {k} out of range (0..16)")]
    BadMemSlot { pc: usize, k: u32 },
    /// A jump past the end of the program.
    #[error("instruction {pc}: jump target out of range")]
    BadJump { pc: usize },
    /// Division or modulus by the constant zero.
    #[error("instruction {pc}: division by constant zero")]
    DivByZero { pc: usize },
    /// Shift by a constant of 32 or more.
    #[error("instruction {pc}: shift by {k} bits (must be < 32)")]
    BadShift { pc: usize, k: u32 },
    /// The last instruction is not a `ret`.
    #[error("the last instruction is not a return")]
    NoFinalReturn,
}

/// Check a program the way libpcap's `bpf_validate()` does: known opcodes, memory
/// slots below 16, every jump target inside the program (jumps only go forward),
/// no division by a constant zero, and a final `ret`.
///
/// # Errors
/// The first rule the program breaks.
pub fn validate(insns: &[Insn]) -> Result<(), ValidateError> {
    let len = insns.len();
    if len == 0 {
        return Err(ValidateError::Empty);
    }
    if len > BPF_MAXINSNS {
        return Err(ValidateError::TooLong(len));
    }
    for (pc, p) in insns.iter().enumerate() {
        let bad = || ValidateError::BadOpcode { pc, code: p.code };
        let mem = |k: u32| {
            if k >= BPF_MEMWORDS {
                Err(ValidateError::BadMemSlot { pc, k })
            } else {
                Ok(())
            }
        };
        match class(p.code) {
            BPF_LD | BPF_LDX => {
                let is_ld = class(p.code) == BPF_LD;
                let sz = size(p.code);
                match (is_ld, mode(p.code)) {
                    (_, BPF_IMM | BPF_LEN) if sz == BPF_W => {}
                    (_, BPF_MEM) if sz == BPF_W => mem(p.k)?,
                    (true, BPF_ABS | BPF_IND) if sz != 0x18 => {}
                    (false, BPF_MSH) if sz == BPF_B => {}
                    _ => return Err(bad()),
                }
                if p.code & !0xff != 0 {
                    return Err(bad());
                }
            }
            BPF_ST | BPF_STX => {
                if p.code & !0x07 != 0 {
                    return Err(bad());
                }
                mem(p.k)?;
            }
            BPF_ALU => {
                if p.code & !0xff != 0 {
                    return Err(bad());
                }
                match op(p.code) {
                    BPF_ADD | BPF_SUB | BPF_MUL | BPF_OR | BPF_AND | BPF_XOR => {}
                    BPF_DIV | BPF_MOD => {
                        if src(p.code) == BPF_K && p.k == 0 {
                            return Err(ValidateError::DivByZero { pc });
                        }
                    }
                    BPF_LSH | BPF_RSH => {
                        if src(p.code) == BPF_K && p.k >= 32 {
                            return Err(ValidateError::BadShift { pc, k: p.k });
                        }
                    }
                    BPF_NEG => {}
                    _ => return Err(bad()),
                }
            }
            BPF_JMP => {
                if p.code & !0xff != 0 {
                    return Err(bad());
                }
                let from = pc + 1;
                match op(p.code) {
                    BPF_JA => {
                        let target = usize::try_from(p.k).ok().and_then(|k| from.checked_add(k));
                        if target.is_none_or(|t| t >= len) {
                            return Err(ValidateError::BadJump { pc });
                        }
                    }
                    BPF_JEQ | BPF_JGT | BPF_JGE | BPF_JSET => {
                        if from + usize::from(p.jt) >= len || from + usize::from(p.jf) >= len {
                            return Err(ValidateError::BadJump { pc });
                        }
                    }
                    _ => return Err(bad()),
                }
            }
            BPF_RET => {
                if p.code & !0xff != 0 || !matches!(rval(p.code), BPF_K | BPF_A | BPF_X) {
                    return Err(bad());
                }
            }
            BPF_MISC => {
                if p.code & !0xff != 0 || !matches!(miscop(p.code), BPF_TAX | BPF_TXA) {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        }
    }
    if insns.last().is_some_and(|p| class(p.code) == BPF_RET) {
        Ok(())
    } else {
        Err(ValidateError::NoFinalReturn)
    }
}

const LD_ABS: u16 = BPF_LD | BPF_W | BPF_ABS;
const LDH_ABS: u16 = BPF_LD | BPF_H | BPF_ABS;
const LDB_ABS: u16 = BPF_LD | BPF_B | BPF_ABS;
const LDH_IND: u16 = BPF_LD | BPF_H | BPF_IND;
const LDXB_MSH: u16 = BPF_LDX | BPF_B | BPF_MSH;
const JEQ_K: u16 = BPF_JMP | BPF_JEQ | BPF_K;
const JGT_K: u16 = BPF_JMP | BPF_JGT | BPF_K;
const JGE_K: u16 = BPF_JMP | BPF_JGE | BPF_K;
const JSET_K: u16 = BPF_JMP | BPF_JSET | BPF_K;
const RET_K: u16 = BPF_RET | BPF_K;

/// `load(data, k, BPF_B)`.
#[inline]
fn load_b(data: &[u8], k: u32) -> Option<u32> {
    let i = usize::try_from(k).ok()?;
    data.get(i).map(|&b| u32::from(b))
}

/// `load(data, k, BPF_H)`.
#[inline]
fn load_h(data: &[u8], k: u32) -> Option<u32> {
    let start = usize::try_from(k).ok()?;
    let b = data.get(start..start.checked_add(2)?)?;
    Some(u32::from(u16::from_be_bytes([b[0], b[1]])))
}

/// `load(data, k, BPF_W)`.
#[inline]
fn load_w(data: &[u8], k: u32) -> Option<u32> {
    let start = usize::try_from(k).ok()?;
    let b = data.get(start..start.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn load(data: &[u8], k: u32, width: u16) -> Option<u32> {
    let start = usize::try_from(k).ok()?;
    match width {
        BPF_W => {
            let b = data.get(start..start.checked_add(4)?)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        }
        BPF_H => {
            let b = data.get(start..start.checked_add(2)?)?;
            Some(u32::from(u16::from_be_bytes([b[0], b[1]])))
        }
        BPF_B => data.get(start).map(|&b| u32::from(b)),
        _ => None,
    }
}

fn alu(code: u16, a: u32, operand: u32) -> Option<u32> {
    Some(match op(code) {
        BPF_ADD => a.wrapping_add(operand),
        BPF_SUB => a.wrapping_sub(operand),
        BPF_MUL => a.wrapping_mul(operand),
        BPF_DIV => a.checked_div(operand)?,
        BPF_MOD => a.checked_rem(operand)?,
        BPF_AND => a & operand,
        BPF_OR => a | operand,
        BPF_XOR => a ^ operand,
        BPF_LSH => a.checked_shl(operand).unwrap_or(0),
        BPF_RSH => a.checked_shr(operand).unwrap_or(0),
        BPF_NEG => a.wrapping_neg(),
        _ => return None,
    })
}

/// Socket metadata for Linux's ancillary loads (`SKF_AD_OFF + SKF_AD_*`);
/// a load of a field that is `None` (or of any other field) rejects, as a
/// load outside the packet does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ancillary {
    /// `SKF_AD_PKTTYPE`: the `sll_pkttype` (0 host, 1 broadcast, 2
    /// multicast, 3 other host, 4 outgoing).
    pub pkttype: Option<u32>,
    /// `SKF_AD_IFINDEX`: the interface index.
    pub ifindex: Option<u32>,
    /// `SKF_AD_PROTOCOL`: the link-layer protocol (host order).
    pub protocol: Option<u32>,
}

impl Ancillary {
    fn load(&self, k: u32) -> Option<u32> {
        match k.checked_sub(crate::insn::SKF_AD_OFF)? {
            crate::insn::SKF_AD_PKTTYPE => self.pkttype,
            crate::insn::SKF_AD_IFINDEX => self.ifindex,
            crate::insn::SKF_AD_PROTOCOL => self.protocol,
            _ => None,
        }
    }
}

/// Run a program on one record, like libpcap's `bpf_filter()`: `data` is the
/// captured bytes, `wirelen` the original length (`len`/`#pktlen`). Returns the
/// program's return value (0 = reject). Any fault — a load outside `data`, a
/// division by zero, an invalid opcode, a jump out of the program, running off
/// the end — returns 0. Never panics, never allocates.
#[must_use]
pub fn run(insns: &[Insn], data: &[u8], wirelen: u32) -> u32 {
    run_with(insns, data, wirelen, &Ancillary::default())
}

/// [`run`] with socket metadata: an absolute load at `SKF_AD_OFF + SKF_AD_*`
/// (any width) reads `aux`, as the Linux kernel's filter does.
#[must_use]
pub fn run_with(insns: &[Insn], data: &[u8], wirelen: u32, aux: &Ancillary) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; 16];
    let mut pc: usize = 0;
    // Jumps are unsigned offsets from the next instruction: every step moves
    // `pc` forward by at least one, so any program (validated or not) ends
    // within its length in steps, and `insns.get` ends a run off the end.
    loop {
        let Some(p) = insns.get(pc) else { return 0 };
        pc += 1;
        let k = p.k;
        // The opcodes compiled filters spend their time in, decoded in one
        // step; each does exactly what the general decoding below does.
        match p.code {
            JEQ_K => {
                pc += usize::from(if a == k { p.jt } else { p.jf });
                continue;
            }
            LDH_ABS if k < crate::insn::SKF_AD_OFF => {
                let Some(v) = load_h(data, k) else { return 0 };
                a = v;
                continue;
            }
            LDB_ABS if k < crate::insn::SKF_AD_OFF => {
                let Some(v) = load_b(data, k) else { return 0 };
                a = v;
                continue;
            }
            LD_ABS if k < crate::insn::SKF_AD_OFF => {
                let Some(v) = load_w(data, k) else { return 0 };
                a = v;
                continue;
            }
            LDH_IND => {
                let Some(v) = x.checked_add(k).and_then(|o| load_h(data, o)) else {
                    return 0;
                };
                a = v;
                continue;
            }
            LDXB_MSH => {
                let Some(v) = load_b(data, k) else { return 0 };
                x = (v & 0xf) << 2;
                continue;
            }
            JGT_K => {
                pc += usize::from(if a > k { p.jt } else { p.jf });
                continue;
            }
            JGE_K => {
                pc += usize::from(if a >= k { p.jt } else { p.jf });
                continue;
            }
            JSET_K => {
                pc += usize::from(if a & k != 0 { p.jt } else { p.jf });
                continue;
            }
            RET_K => return k,
            _ => {}
        }
        match class(p.code) {
            BPF_RET => {
                return match rval(p.code) {
                    BPF_K => k,
                    BPF_A => a,
                    BPF_X => x,
                    _ => 0,
                };
            }
            BPF_LD => {
                a = match mode(p.code) {
                    BPF_ABS if k >= crate::insn::SKF_AD_OFF => match aux.load(k) {
                        Some(v) => v,
                        None => return 0,
                    },
                    BPF_ABS => match load(data, k, size(p.code)) {
                        Some(v) => v,
                        None => return 0,
                    },
                    BPF_IND => {
                        let Some(off) = x.checked_add(k) else {
                            return 0;
                        };
                        match load(data, off, size(p.code)) {
                            Some(v) => v,
                            None => return 0,
                        }
                    }
                    BPF_IMM => k,
                    BPF_LEN => wirelen,
                    BPF_MEM => match usize::try_from(k).ok().and_then(|i| mem.get(i)) {
                        Some(&v) => v,
                        None => return 0,
                    },
                    _ => return 0,
                };
            }
            BPF_LDX => {
                x = match mode(p.code) {
                    BPF_IMM => k,
                    BPF_LEN => wirelen,
                    BPF_MEM => match usize::try_from(k).ok().and_then(|i| mem.get(i)) {
                        Some(&v) => v,
                        None => return 0,
                    },
                    BPF_MSH => match usize::try_from(k).ok().and_then(|i| data.get(i)) {
                        Some(&b) => u32::from(b & 0xf) << 2,
                        None => return 0,
                    },
                    _ => return 0,
                };
            }
            BPF_ST | BPF_STX => {
                let v = if class(p.code) == BPF_ST { a } else { x };
                match usize::try_from(k).ok().and_then(|i| mem.get_mut(i)) {
                    Some(slot) => *slot = v,
                    None => return 0,
                }
            }
            BPF_ALU => {
                let operand = if src(p.code) == BPF_X { x } else { k };
                match alu(p.code, a, operand) {
                    Some(v) => a = v,
                    None => return 0,
                }
            }
            BPF_JMP => {
                let operand = if src(p.code) == BPF_X { x } else { k };
                let skip = match op(p.code) {
                    BPF_JA => match usize::try_from(k) {
                        Ok(s) => s,
                        Err(_) => return 0,
                    },
                    BPF_JEQ | BPF_JGT | BPF_JGE | BPF_JSET => {
                        let taken = match op(p.code) {
                            BPF_JEQ => a == operand,
                            BPF_JGT => a > operand,
                            BPF_JGE => a >= operand,
                            _ => a & operand != 0,
                        };
                        usize::from(if taken { p.jt } else { p.jf })
                    }
                    _ => return 0,
                };
                let Some(next) = pc.checked_add(skip) else {
                    return 0;
                };
                pc = next;
            }
            BPF_MISC => match miscop(p.code) {
                BPF_TAX => x = a,
                BPF_TXA => a = x,
                _ => return 0,
            },
            _ => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::*;

    fn prog_eth_ip() -> Vec<Insn> {
        vec![
            Insn::stmt(BPF_LD | BPF_H | BPF_ABS, 12),
            Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 1),
            Insn::stmt(BPF_RET | BPF_K, 100),
            Insn::stmt(BPF_RET | BPF_K, 0),
        ]
    }

    #[test]
    fn runs_simple_program() {
        let p = prog_eth_ip();
        validate(&p).unwrap();
        let mut pkt = [0u8; 20];
        pkt[12] = 8;
        assert_eq!(run(&p, &pkt, 20), 100);
        pkt[12] = 0x86;
        assert_eq!(run(&p, &pkt, 20), 0);
        // out of bounds load rejects
        assert_eq!(run(&p, &pkt[..13], 20), 0);
    }

    /// The one-step opcodes (`run_with`'s fast path) behave as the general
    /// decoding: bounds, the ancillary area, index overflow, every jump.
    #[test]
    fn fast_path_opcodes() {
        let ret_a = Insn::stmt(BPF_RET | BPF_A, 0);
        let load = |code: u16, k: u32| vec![Insn::stmt(code, k), ret_a];
        let pkt = [0x12u8, 0x34, 0x56, 0x78, 0x9a];
        let aux = Ancillary {
            pkttype: Some(4),
            ifindex: Some(7),
            protocol: None,
        };
        let r = |p: &[Insn]| run_with(p, &pkt, 60, &aux);
        assert_eq!(r(&load(BPF_LD | BPF_B | BPF_ABS, 4)), 0x9a);
        assert_eq!(r(&load(BPF_LD | BPF_B | BPF_ABS, 5)), 0);
        assert_eq!(r(&load(BPF_LD | BPF_H | BPF_ABS, 3)), 0x789a);
        assert_eq!(r(&load(BPF_LD | BPF_H | BPF_ABS, 4)), 0);
        assert_eq!(r(&load(BPF_LD | BPF_W | BPF_ABS, 1)), 0x3456_789a);
        assert_eq!(r(&load(BPF_LD | BPF_W | BPF_ABS, 2)), 0);
        assert_eq!(r(&load(BPF_LD | BPF_W | BPF_ABS, u32::MAX)), 0);
        // the ancillary area, at any width
        assert_eq!(
            r(&load(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE)),
            4
        );
        assert_eq!(
            r(&load(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD_IFINDEX)),
            7
        );
        assert_eq!(
            r(&load(
                BPF_LD | BPF_W | BPF_ABS,
                SKF_AD_OFF + SKF_AD_PROTOCOL
            )),
            0
        );
        // ldh [x + k]: x from ldxb 4*([k]&0xf) (0x34 & 0xf = 4 -> 16)
        let ind = |k: u32| {
            vec![
                Insn::stmt(BPF_LDX | BPF_B | BPF_MSH, 1),
                Insn::stmt(BPF_LD | BPF_H | BPF_IND, k),
                ret_a,
            ]
        };
        assert_eq!(
            run_with(
                &ind(0),
                &[
                    0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd
                ],
                18,
                &aux
            ),
            0xabcd
        );
        assert_eq!(r(&ind(0)), 0);
        assert_eq!(r(&ind(u32::MAX)), 0);
        assert_eq!(r(&load(BPF_LDX | BPF_B | BPF_MSH, 9)), 0);
        for (op, a, k, taken) in [
            (BPF_JEQ, 5, 5, true),
            (BPF_JEQ, 5, 6, false),
            (BPF_JGT, 6, 5, true),
            (BPF_JGT, 5, 5, false),
            (BPF_JGE, 5, 5, true),
            (BPF_JGE, 4, 5, false),
            (BPF_JSET, 6, 2, true),
            (BPF_JSET, 6, 1, false),
        ] {
            let p = [
                Insn::stmt(BPF_LD | BPF_IMM, a),
                Insn::jump(BPF_JMP | op | BPF_K, k, 1, 0),
                Insn::stmt(BPF_RET | BPF_K, 1),
                Insn::stmt(BPF_RET | BPF_K, 2),
            ];
            assert_eq!(r(&p), if taken { 2 } else { 1 }, "op {op:#x} a {a} k {k}");
        }
        // a jump past the end, and running off the end, reject
        assert_eq!(r(&[Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 5)]), 0);
        assert_eq!(r(&[Insn::stmt(BPF_LD | BPF_IMM, 1)]), 0);
    }

    #[test]
    fn msh_len_mem_and_division() {
        let p = vec![
            Insn::stmt(BPF_LDX | BPF_MSH | BPF_B, 0),
            Insn::stmt(BPF_STX, 3),
            Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0),
            Insn::stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
            Insn::stmt(BPF_RET | BPF_A, 0),
        ];
        validate(&p).unwrap();
        assert_eq!(run(&p, &[0x45], 100), 5); // X = 20, 100/20
        assert_eq!(run(&p, &[0x40], 100), 0); // X = 0: division by zero rejects
        let m = vec![
            Insn::stmt(BPF_LD | BPF_MEM, 16),
            Insn::stmt(BPF_RET | BPF_A, 0),
        ];
        assert_eq!(
            validate(&m),
            Err(ValidateError::BadMemSlot { pc: 0, k: 16 })
        );
    }

    #[test]
    fn validator_rules() {
        assert_eq!(validate(&[]), Err(ValidateError::Empty));
        let j = vec![
            Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
            Insn::stmt(BPF_RET | BPF_K, 0),
        ];
        assert_eq!(validate(&j), Err(ValidateError::BadJump { pc: 0 }));
        let d = vec![
            Insn::stmt(BPF_ALU | BPF_DIV | BPF_K, 0),
            Insn::stmt(BPF_RET | BPF_K, 0),
        ];
        assert_eq!(validate(&d), Err(ValidateError::DivByZero { pc: 0 }));
        let r = vec![Insn::stmt(BPF_LD | BPF_IMM, 0)];
        assert_eq!(validate(&r), Err(ValidateError::NoFinalReturn));
        let u = vec![Insn::stmt(0xff, 0), Insn::stmt(BPF_RET | BPF_K, 0)];
        assert!(matches!(validate(&u), Err(ValidateError::BadOpcode { .. })));
        let ja = vec![
            Insn::stmt(BPF_JMP | BPF_JA, u32::MAX),
            Insn::stmt(BPF_RET | BPF_K, 0),
        ];
        assert_eq!(validate(&ja), Err(ValidateError::BadJump { pc: 0 }));
    }

    #[test]
    fn alu_semantics() {
        assert_eq!(alu(BPF_ALU | BPF_LSH | BPF_X, 1, 40), Some(0));
        assert_eq!(alu(BPF_ALU | BPF_SUB | BPF_K, 0, 1), Some(u32::MAX));
        assert_eq!(alu(BPF_ALU | BPF_MOD | BPF_X, 7, 0), None);
        assert_eq!(alu(BPF_ALU | BPF_NEG, 1, 0), Some(u32::MAX));
    }
}
