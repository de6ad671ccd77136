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
    let mut m = Machine::new();
    let mut pc: usize = 0;
    // Jumps are unsigned offsets from the next instruction: every step moves
    // `pc` forward by at least one, so any program (validated or not) ends
    // within its length in steps, and `insns.get` ends a run off the end.
    loop {
        let Some(p) = insns.get(pc) else { return 0 };
        pc += 1;
        let k = p.k;
        // The opcodes compiled filters spend their time in, decoded in one
        // step; each does exactly what the general decoding does.
        match p.code {
            JEQ_K => {
                pc += usize::from(if m.a == k { p.jt } else { p.jf });
                continue;
            }
            LDH_ABS if k < crate::insn::SKF_AD_OFF => {
                let Some(v) = load_h(data, k) else { return 0 };
                m.a = v;
                continue;
            }
            LDB_ABS if k < crate::insn::SKF_AD_OFF => {
                let Some(v) = load_b(data, k) else { return 0 };
                m.a = v;
                continue;
            }
            LD_ABS if k < crate::insn::SKF_AD_OFF => {
                let Some(v) = load_w(data, k) else { return 0 };
                m.a = v;
                continue;
            }
            LDH_IND => {
                let Some(v) = m.x.checked_add(k).and_then(|o| load_h(data, o)) else {
                    return 0;
                };
                m.a = v;
                continue;
            }
            LDXB_MSH => {
                let Some(v) = load_b(data, k) else { return 0 };
                m.x = (v & 0xf) << 2;
                continue;
            }
            JGT_K => {
                pc += usize::from(if m.a > k { p.jt } else { p.jf });
                continue;
            }
            JGE_K => {
                pc += usize::from(if m.a >= k { p.jt } else { p.jf });
                continue;
            }
            JSET_K => {
                pc += usize::from(if m.a & k != 0 { p.jt } else { p.jf });
                continue;
            }
            RET_K => return k,
            _ => {}
        }
        if let Err(v) = m.step(p, &mut pc, data, wirelen, aux) {
            return v;
        }
    }
}

/// The registers of one run: A, X and the scratch memory (zeroed).
struct Machine {
    a: u32,
    x: u32,
    mem: [u32; 16],
}

impl Machine {
    fn new() -> Self {
        Self {
            a: 0,
            x: 0,
            mem: [0; 16],
        }
    }

    /// Execute any instruction (`pc` already points past it): `Err(v)`
    /// ends the run returning `v` (0 for a fault), `Ok` continues at `pc`.
    #[inline]
    fn step(
        &mut self,
        p: &Insn,
        pc: &mut usize,
        data: &[u8],
        wirelen: u32,
        aux: &Ancillary,
    ) -> Result<(), u32> {
        let k = p.k;
        match class(p.code) {
            BPF_RET => {
                return Err(match rval(p.code) {
                    BPF_K => k,
                    BPF_A => self.a,
                    BPF_X => self.x,
                    _ => 0,
                });
            }
            BPF_LD => {
                self.a = match mode(p.code) {
                    BPF_ABS if k >= crate::insn::SKF_AD_OFF => aux.load(k).ok_or(0u32)?,
                    BPF_ABS => load(data, k, size(p.code)).ok_or(0u32)?,
                    BPF_IND => {
                        let off = self.x.checked_add(k).ok_or(0u32)?;
                        load(data, off, size(p.code)).ok_or(0u32)?
                    }
                    BPF_IMM => k,
                    BPF_LEN => wirelen,
                    BPF_MEM => *usize::try_from(k)
                        .ok()
                        .and_then(|i| self.mem.get(i))
                        .ok_or(0u32)?,
                    _ => return Err(0),
                };
            }
            BPF_LDX => {
                self.x = match mode(p.code) {
                    BPF_IMM => k,
                    BPF_LEN => wirelen,
                    BPF_MEM => *usize::try_from(k)
                        .ok()
                        .and_then(|i| self.mem.get(i))
                        .ok_or(0u32)?,
                    BPF_MSH => {
                        let b = *usize::try_from(k)
                            .ok()
                            .and_then(|i| data.get(i))
                            .ok_or(0u32)?;
                        u32::from(b & 0xf) << 2
                    }
                    _ => return Err(0),
                };
            }
            BPF_ST | BPF_STX => {
                let v = if class(p.code) == BPF_ST {
                    self.a
                } else {
                    self.x
                };
                *usize::try_from(k)
                    .ok()
                    .and_then(|i| self.mem.get_mut(i))
                    .ok_or(0u32)? = v;
            }
            BPF_ALU => {
                let operand = if src(p.code) == BPF_X { self.x } else { k };
                self.a = alu(p.code, self.a, operand).ok_or(0u32)?;
            }
            BPF_JMP => {
                let operand = if src(p.code) == BPF_X { self.x } else { k };
                let skip = match op(p.code) {
                    BPF_JA => usize::try_from(k).map_err(|_| 0u32)?,
                    BPF_JEQ | BPF_JGT | BPF_JGE | BPF_JSET => {
                        let taken = match op(p.code) {
                            BPF_JEQ => self.a == operand,
                            BPF_JGT => self.a > operand,
                            BPF_JGE => self.a >= operand,
                            _ => self.a & operand != 0,
                        };
                        usize::from(if taken { p.jt } else { p.jf })
                    }
                    _ => return Err(0),
                };
                *pc = pc.checked_add(skip).ok_or(0u32)?;
            }
            BPF_MISC => match miscop(p.code) {
                BPF_TAX => self.x = self.a,
                BPF_TXA => self.a = self.x,
                _ => return Err(0),
            },
            _ => return Err(0),
        }
        Ok(())
    }
}

/// One instruction of a [`Decoded`] program: the opcodes compiled filters
/// spend their time in, with their operands unpacked and jump targets made
/// absolute; anything else stays the instruction, for [`Machine::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    LdB(u32),
    LdH(u32),
    LdW(u32),
    LdIndB(u32),
    LdIndH(u32),
    LdIndW(u32),
    LdxMsh(u32),
    LdImm(u32),
    LdxImm(u32),
    LdMem(u8),
    LdxMem(u8),
    St(u8),
    Stx(u8),
    AddK(u32),
    AndK(u32),
    LshK(u32),
    RshK(u32),
    AddX,
    Tax,
    Txa,
    /// `ja`: the absolute index of the next instruction.
    Ja(u32),
    /// Conditional jumps on A against k: (k, true target, false target).
    JeqK(u32, u32, u32),
    JgtK(u32, u32, u32),
    JgeK(u32, u32, u32),
    JsetK(u32, u32, u32),
    RetK(u32),
    RetA,
    /// A load and the conditional jump after it, in one step (superinstructions:
    /// the jump keeps its own entry too, for jumps that land on it).
    LdHJeq(u32, u32, u32, u32),
    LdBJeq(u32, u32, u32, u32),
    LdIndHJeq(u32, u32, u32, u32),
    LdHJset(u32, u32, u32, u32),
    LdBJset(u32, u32, u32, u32),
    Other(Insn),
}

/// A program decoded once, for runs that cost fewer machine instructions
/// than decoding each instruction every time ([`run_with`]); one [`Op`] per
/// instruction, so relative jumps left in [`Op::Other`] still work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decoded(Vec<Op>);

impl Decoded {
    pub(crate) fn new(insns: &[Insn]) -> Self {
        use crate::insn::SKF_AD_OFF;
        let target = |pc: usize, off: usize| u32::try_from(pc + 1 + off).unwrap_or(u32::MAX);
        let slot = |k: u32| u8::try_from(k).ok().filter(|&s| s < 16);
        Decoded(
            insns
                .iter()
                .enumerate()
                .map(|(pc, p)| {
                    let k = p.k;
                    let (jt, jf) = (target(pc, p.jt.into()), target(pc, p.jf.into()));
                    match p.code {
                        LDB_ABS if k < SKF_AD_OFF => Op::LdB(k),
                        LDH_ABS if k < SKF_AD_OFF => Op::LdH(k),
                        LD_ABS if k < SKF_AD_OFF => Op::LdW(k),
                        c if c == BPF_LD | BPF_B | BPF_IND => Op::LdIndB(k),
                        LDH_IND => Op::LdIndH(k),
                        c if c == BPF_LD | BPF_W | BPF_IND => Op::LdIndW(k),
                        LDXB_MSH => Op::LdxMsh(k),
                        c if c == BPF_LD | BPF_IMM => Op::LdImm(k),
                        c if c == BPF_LDX | BPF_IMM => Op::LdxImm(k),
                        c if c == BPF_LD | BPF_MEM && slot(k).is_some() => {
                            Op::LdMem(slot(k).unwrap_or(0))
                        }
                        c if c == BPF_LDX | BPF_MEM && slot(k).is_some() => {
                            Op::LdxMem(slot(k).unwrap_or(0))
                        }
                        BPF_ST if slot(k).is_some() => Op::St(slot(k).unwrap_or(0)),
                        BPF_STX if slot(k).is_some() => Op::Stx(slot(k).unwrap_or(0)),
                        c if c == BPF_ALU | BPF_ADD | BPF_K => Op::AddK(k),
                        c if c == BPF_ALU | BPF_AND | BPF_K => Op::AndK(k),
                        c if c == BPF_ALU | BPF_LSH | BPF_K => Op::LshK(k),
                        c if c == BPF_ALU | BPF_RSH | BPF_K => Op::RshK(k),
                        c if c == BPF_ALU | BPF_ADD | BPF_X => Op::AddX,
                        c if c == BPF_MISC | BPF_TAX => Op::Tax,
                        c if c == BPF_MISC | BPF_TXA => Op::Txa,
                        c if c == BPF_JMP | BPF_JA => match usize::try_from(k) {
                            Ok(off) if off < insns.len() => Op::Ja(target(pc, off)),
                            _ => Op::Other(*p),
                        },
                        JEQ_K => Op::JeqK(k, jt, jf),
                        JGT_K => Op::JgtK(k, jt, jf),
                        JGE_K => Op::JgeK(k, jt, jf),
                        JSET_K => Op::JsetK(k, jt, jf),
                        RET_K => Op::RetK(k),
                        c if c == BPF_RET | BPF_A => Op::RetA,
                        _ => Op::Other(*p),
                    }
                })
                .collect::<Vec<_>>(),
        )
        .fused()
    }

    /// Fuse each load with the conditional jump that follows it.
    fn fused(mut self) -> Self {
        for i in 1..self.0.len() {
            let fused = match (self.0[i - 1], self.0[i]) {
                (Op::LdH(k), Op::JeqK(v, t, f)) => Op::LdHJeq(k, v, t, f),
                (Op::LdB(k), Op::JeqK(v, t, f)) => Op::LdBJeq(k, v, t, f),
                (Op::LdIndH(k), Op::JeqK(v, t, f)) => Op::LdIndHJeq(k, v, t, f),
                (Op::LdH(k), Op::JsetK(v, t, f)) => Op::LdHJset(k, v, t, f),
                (Op::LdB(k), Op::JsetK(v, t, f)) => Op::LdBJset(k, v, t, f),
                _ => continue,
            };
            self.0[i - 1] = fused;
        }
        self
    }

    /// [`run_with`] on the decoded program: the same result for every
    /// program, record and metadata (tested against it).
    pub(crate) fn run(&self, data: &[u8], wirelen: u32, aux: &Ancillary) -> u32 {
        let ops = &self.0[..];
        let mut m = Machine::new();
        let mut pc: usize = 0;
        // Every target is past the instruction that jumps, so runs end
        // within the program's length in steps; `get` ends one off the end.
        loop {
            let Some(op) = ops.get(pc) else { return 0 };
            pc += 1;
            match *op {
                Op::JeqK(k, jt, jf) => pc = (if m.a == k { jt } else { jf }) as usize,
                Op::LdHJeq(k, v, jt, jf) => match load_h(data, k) {
                    Some(a) => {
                        m.a = a;
                        pc = (if a == v { jt } else { jf }) as usize;
                    }
                    None => return 0,
                },
                Op::LdBJeq(k, v, jt, jf) => match load_b(data, k) {
                    Some(a) => {
                        m.a = a;
                        pc = (if a == v { jt } else { jf }) as usize;
                    }
                    None => return 0,
                },
                Op::LdIndHJeq(k, v, jt, jf) => {
                    match m.x.checked_add(k).and_then(|o| load_h(data, o)) {
                        Some(a) => {
                            m.a = a;
                            pc = (if a == v { jt } else { jf }) as usize;
                        }
                        None => return 0,
                    }
                }
                Op::LdHJset(k, v, jt, jf) => match load_h(data, k) {
                    Some(a) => {
                        m.a = a;
                        pc = (if a & v != 0 { jt } else { jf }) as usize;
                    }
                    None => return 0,
                },
                Op::LdBJset(k, v, jt, jf) => match load_b(data, k) {
                    Some(a) => {
                        m.a = a;
                        pc = (if a & v != 0 { jt } else { jf }) as usize;
                    }
                    None => return 0,
                },
                Op::LdH(k) => match load_h(data, k) {
                    Some(v) => m.a = v,
                    None => return 0,
                },
                Op::LdB(k) => match load_b(data, k) {
                    Some(v) => m.a = v,
                    None => return 0,
                },
                Op::LdW(k) => match load_w(data, k) {
                    Some(v) => m.a = v,
                    None => return 0,
                },
                Op::LdIndH(k) => match m.x.checked_add(k).and_then(|o| load_h(data, o)) {
                    Some(v) => m.a = v,
                    None => return 0,
                },
                Op::LdIndB(k) => match m.x.checked_add(k).and_then(|o| load_b(data, o)) {
                    Some(v) => m.a = v,
                    None => return 0,
                },
                Op::LdIndW(k) => match m.x.checked_add(k).and_then(|o| load_w(data, o)) {
                    Some(v) => m.a = v,
                    None => return 0,
                },
                Op::LdxMsh(k) => match load_b(data, k) {
                    Some(v) => m.x = (v & 0xf) << 2,
                    None => return 0,
                },
                Op::JgtK(k, jt, jf) => pc = (if m.a > k { jt } else { jf }) as usize,
                Op::JgeK(k, jt, jf) => pc = (if m.a >= k { jt } else { jf }) as usize,
                Op::JsetK(k, jt, jf) => pc = (if m.a & k != 0 { jt } else { jf }) as usize,
                Op::RetK(k) => return k,
                Op::RetA => return m.a,
                Op::LdImm(k) => m.a = k,
                Op::LdxImm(k) => m.x = k,
                Op::LdMem(s) => m.a = m.mem[usize::from(s & 15)],
                Op::LdxMem(s) => m.x = m.mem[usize::from(s & 15)],
                Op::St(s) => m.mem[usize::from(s & 15)] = m.a,
                Op::Stx(s) => m.mem[usize::from(s & 15)] = m.x,
                Op::AddK(k) => m.a = m.a.wrapping_add(k),
                Op::AndK(k) => m.a &= k,
                Op::LshK(k) => m.a = m.a.checked_shl(k).unwrap_or(0),
                Op::RshK(k) => m.a = m.a.checked_shr(k).unwrap_or(0),
                Op::AddX => m.a = m.a.wrapping_add(m.x),
                Op::Tax => m.x = m.a,
                Op::Txa => m.a = m.x,
                Op::Ja(t) => pc = t as usize,
                Op::Other(p) => {
                    if let Err(v) = m.step(&p, &mut pc, data, wirelen, aux) {
                        return v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::*;

    /// The decoded interpreter (with its fused load+jump steps) returns what
    /// the instruction-by-instruction one does, on random valid programs,
    /// records and socket metadata.
    #[test]
    #[allow(clippy::cast_possible_truncation)] // random bits, truncated on purpose
    fn decoded_runs_as_run_with() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let ret = Insn::stmt(BPF_RET | BPF_K, 7);
        let valid: Vec<u16> = (0u16..=0xff)
            .filter(|&c| validate(&[Insn::stmt(c, 1), ret]).is_ok())
            .collect();
        // the opcodes the decoder and the fused steps specialise, more often
        let hot = [
            LDH_ABS,
            LDB_ABS,
            LD_ABS,
            LDH_IND,
            LDXB_MSH,
            JEQ_K,
            JSET_K,
            JGT_K,
            JGE_K,
            BPF_LD | BPF_B | BPF_IND,
            BPF_LD | BPF_W | BPF_IND,
            BPF_ST,
            BPF_LDX | BPF_MEM,
        ];
        let mut compared = 0;
        for _ in 0..20_000 {
            let len = 2 + (rnd() % 20) as usize;
            let mut prog = Vec::with_capacity(len);
            for i in 0..len - 1 {
                let r = rnd();
                let code = if r % 2 == 0 {
                    hot[(r >> 8) as usize % hot.len()]
                } else {
                    valid[(r >> 8) as usize % valid.len()]
                };
                let k = match (r >> 40) % 6 {
                    0 => u32::MAX,
                    1 => crate::insn::SKF_AD_OFF + ((r >> 48) % 12) as u32,
                    2 => (r >> 20) as u32,
                    _ => ((r >> 20) % 70) as u32,
                };
                let room = (len - 2 - i) as u64 + 1;
                let (jt, jf) = ((rnd() % room) as u8, (rnd() % room) as u8);
                prog.push(Insn { code, jt, jf, k });
            }
            prog.push(if rnd() % 2 == 0 {
                ret
            } else {
                Insn::stmt(BPF_RET | BPF_A, 0)
            });
            if validate(&prog).is_err() {
                continue;
            }
            let decoded = Decoded::new(&prog);
            for _ in 0..8 {
                let n = (rnd() % 80) as usize;
                let pkt: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
                let wirelen = rnd() as u32;
                let field = |r: u64| (!r.is_multiple_of(3)).then_some((r >> 8) as u32 % 8);
                let aux = Ancillary {
                    pkttype: field(rnd()),
                    ifindex: field(rnd()),
                    protocol: field(rnd()),
                };
                assert_eq!(
                    decoded.run(&pkt, wirelen, &aux),
                    run_with(&prog, &pkt, wirelen, &aux),
                    "{prog:?} on {pkt:?}"
                );
                compared += 1;
            }
        }
        assert!(compared > 20_000, "only {compared} runs compared");
    }

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
