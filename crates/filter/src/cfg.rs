//! Boolean conditions, their lowering to a control-flow graph of basic blocks,
//! the optimiser and the final layout into a flat classic BPF program.
//!
//! Every primitive becomes a [`Test`]: straight-line statements that compute a
//! value into A from the packet alone, then one conditional jump. `and`, `or`
//! and `not` only wire tests together (short-circuit), so until the last
//! optimiser pass each block is a pure function of the packet; that makes
//! jump threading on "facts" (results of earlier identical tests) sound.

use std::collections::HashMap;
use std::rc::Rc;

use crate::insn::{
    BPF_ADD, BPF_ALU, BPF_AND, BPF_DIV, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT,
    BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD,
    BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TAX,
    BPF_TXA, BPF_X, BPF_XOR, Insn, class, miscop, mode, op, src,
};

/// Straight-line statements leaving a value in A, then `code` (a conditional
/// `BPF_JMP`) against `k` or X.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Test {
    pub stmts: Vec<Insn>,
    pub code: u16,
    pub k: u32,
    /// An arithmetic relation (libpcap's `gen_relation`): libpcap's `and x`
    /// becomes `and #k` only in its second optimiser phase, after jump
    /// threading, so `and #k; jeq #0` stays a `jeq` (not `jset`) for threading.
    pub arith: bool,
    /// A constant that libpcap's code for this arithmetic relation (with a
    /// constant right side) leaves in X and pcapx's does not: its index or
    /// operand `ldx #k` (`codegen::libpcap_x_after`). libpcap's value
    /// numbering knows `X == k` after the test in the first pass of its
    /// second phase, before its dead-store pass drops that `ldx`; the
    /// redundant load pass remembers the constant for libpcap's "block leaves
    /// A and X as they were" rule only (see [`RegState::x_lib`]).
    pub x_const: Option<u32>,
    /// What libpcap's first optimiser phase numbers this test's value by,
    /// where that differs from `stmts`: a relation's value as libpcap's code
    /// generator writes it (`codegen::vn_arith`). libpcap indexes a
    /// relation's `proto[i]` through X (`gen_load`: `ldx #i; ld [x + off]`,
    /// `BPF_IND`) and takes a constant operand from X (`gen_arth`: `op x`),
    /// and only its second phase (`opt_stmt` with `alter`) folds them into
    /// `ld [off + i]` and `op #k`. Jump threading and `or_pullup` run in the
    /// first phase only, so a relation is a fact about a value of its own
    /// there, never about the direct load of a protocol test.
    pub vn: Option<Vec<Insn>>,
}

/// A boolean condition over the packet.
#[derive(Clone, Debug)]
pub(crate) enum Cond {
    True,
    /// Always true, but no test of libpcap's: a joint of the code generator's
    /// own structure (a run-time prologue's "continue"). Unlike [`Cond::True`]
    /// (libpcap's `gen_true`), it is never a block, even unoptimised.
    Join,
    False,
    Test(Test),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    /// A sub-condition referenced from several places; emitted once per target pair.
    Shared(Rc<Cond>),
    /// `if c then a else b` (no fallback from `a` into `b`).
    If(Box<Cond>, Box<Cond>, Box<Cond>),
    /// The same test as pcapx optimises it, and as libpcap's code generator
    /// writes it before optimising (for programs libpcap does not optimise).
    Dual(Box<Cond>, Box<Cond>),
}

/// Scratch slots reserved for state that crosses blocks (the `protochain` walk).
/// Blocks touching them are "impure": never folded, skipped or used as facts.
/// The code generator allocates further cross-block slots (the run-time offsets
/// of `geneve`/`vxlan`) downwards from here; [`compile`] is told the lowest.
pub(crate) const PC_NH: u32 = 14;
/// See [`PC_NH`].
pub(crate) const PC_OFF: u32 = 15;

/// Scratch slots that carry state across blocks: every slot from `floor` up,
/// except that loads of the `fixed` slots (a bit per slot: the run-time header
/// lengths a prologue stores once, before any test) are pure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slots {
    pub floor: u32,
    pub fixed: u16,
}

/// Does a block touch cross-block state (see [`Slots`])?
fn impure(stmts: &[Insn], slots: Slots) -> bool {
    stmts.iter().any(|s| {
        let store = matches!(class(s.code), BPF_ST | BPF_STX);
        let load = matches!(class(s.code), BPF_LD | BPF_LDX) && mode(s.code) == BPF_MEM;
        let fixed = s.k < 16 && slots.fixed & (1 << s.k) != 0;
        (store || (load && !fixed)) && s.k >= slots.floor
    })
}

impl Cond {
    pub fn and(a: Cond, b: Cond) -> Cond {
        Cond::And(Box::new(a), Box::new(b))
    }
    pub fn or(a: Cond, b: Cond) -> Cond {
        Cond::Or(Box::new(a), Box::new(b))
    }
    #[allow(clippy::should_implement_trait)] // a constructor, not the `!` operator
    pub fn not(a: Cond) -> Cond {
        Cond::Not(Box::new(a))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target {
    Block(usize),
    Accept,
    Reject,
}

#[derive(Clone, Debug)]
struct Block {
    stmts: Vec<Insn>,
    /// From an arithmetic relation ([`Test::arith`]).
    arith: bool,
    /// See [`Test::x_const`].
    x_const: Option<u32>,
    /// See [`Test::vn`].
    vn: Option<Vec<Insn>>,
    /// Touches the reserved cross-block slots.
    impure: bool,
    /// Conditional jump opcode, or `BPF_JMP|BPF_JA` for an unconditional jump to `jt`.
    code: u16,
    k: u32,
    jt: Target,
    jf: Target,
}

impl Block {
    /// What libpcap's first optimiser phase numbers the block's value by
    /// (see [`Test::vn`]).
    fn key(&self) -> &[Insn] {
        self.vn.as_deref().unwrap_or(&self.stmts)
    }
}

const JA: u16 = BPF_JMP | BPF_JA;
/// A statement removed by folding (an opcode no instruction has).
const NOP: u16 = 0xffff;
/// Describes a value known only by its number (never an instruction).
const TOKEN: u16 = 0xfffe;
/// Starts the description of X's value inside that of `A op X` (`k`: its length).
pub(crate) const OPERAND: u16 = 0xfffd;

type Memo = HashMap<(usize, Target, Target), Target>;

/// Lower a condition into blocks. Blocks are created in reverse program order
/// (a block's successors exist before it), so every edge points to a lower id.
fn emit(
    c: &Cond,
    t: Target,
    f: Target,
    blocks: &mut Vec<Block>,
    memo: &mut Memo,
    floor: Slots,
    plain: bool,
) -> Target {
    match c {
        Cond::Shared(inner) => {
            let key = (Rc::as_ptr(inner) as usize, t, f);
            if let Some(&done) = memo.get(&key) {
                return done;
            }
            let r = emit(inner, t, f, blocks, memo, floor, plain);
            memo.insert(key, r);
            r
        }
        Cond::Dual(opt, raw) => {
            let c = if plain { raw } else { opt };
            emit(c, t, f, blocks, memo, floor, plain)
        }
        // Unoptimised, libpcap's gen_true/gen_false stay blocks of their own:
        // `ld #0` (true) or `ld #1` (false), then `jeq #0`.
        Cond::True | Cond::False if plain => {
            blocks.push(Block {
                impure: false,
                arith: false,
                x_const: None,
                vn: None,
                stmts: vec![Insn::stmt(
                    BPF_LD | BPF_IMM,
                    u32::from(matches!(c, Cond::False)),
                )],
                code: BPF_JMP | BPF_JEQ | BPF_K,
                k: 0,
                jt: t,
                jf: f,
            });
            Target::Block(blocks.len() - 1)
        }
        Cond::True | Cond::Join => t,
        Cond::False => f,
        Cond::Not(a) => emit(a, f, t, blocks, memo, floor, plain),
        Cond::If(c, a, b) => {
            let eb = emit(b, t, f, blocks, memo, floor, plain);
            let ea = emit(a, t, f, blocks, memo, floor, plain);
            emit(c, ea, eb, blocks, memo, floor, plain)
        }
        Cond::And(a, b) => {
            let eb = emit(b, t, f, blocks, memo, floor, plain);
            emit(a, eb, f, blocks, memo, floor, plain)
        }
        Cond::Or(a, b) => {
            let eb = emit(b, t, f, blocks, memo, floor, plain);
            emit(a, t, eb, blocks, memo, floor, plain)
        }
        Cond::Test(test) => {
            blocks.push(Block {
                // A test without statements reads A as an earlier block left
                // it (a run-time prologue's chain of `jset`s on one load).
                impure: test.stmts.is_empty() || impure(&test.stmts, floor),
                arith: test.arith,
                x_const: test.x_const,
                vn: test.vn.clone(),
                stmts: test.stmts.clone(),
                code: test.code,
                k: test.k,
                jt: t,
                jf: f,
            });
            Target::Block(blocks.len() - 1)
        }
    }
}

/// Compile a condition to a flat program returning `accept` or 0; scratch
/// slots from `floor` up carry state across blocks.
/// Returns `None` when the program rejects every packet.
pub(crate) fn compile(root: &Cond, accept: u32, floor: u32, fixed: u16) -> Option<Vec<Insn>> {
    let floor = Slots { floor, fixed };
    let mut rev = Vec::new();
    let entry = emit(
        root,
        Target::Accept,
        Target::Reject,
        &mut rev,
        &mut HashMap::new(),
        floor,
        false,
    );
    // Renumber so that block 0 is first and edges point forward.
    let n = rev.len();
    let fix = |t: Target| match t {
        Target::Block(i) => Target::Block(n - 1 - i),
        other => other,
    };
    let mut blocks: Vec<Block> = rev
        .into_iter()
        .rev()
        .map(|mut b| {
            b.jt = fix(b.jt);
            b.jf = fix(b.jf);
            b
        })
        .collect();
    let mut entry = fix(entry);
    // A run-time prologue (PFLOG's header length) and the expression's first
    // test are one block in libpcap, its root.
    let prologue = match entry {
        Target::Block(e) if is_prologue(&blocks[e]) => Some(e),
        _ => None,
    };
    let lead = leading_constant(skip_prologue(root));
    // libpcap's root block is its constant first test when there is one
    // (gen_true/gen_false, already decided): a passthrough whose value (the
    // constant) no test shares, in front of the first test until opt_root
    // (so no pull-up "at the top" moves a test above the first one).
    if let (Some(k), Target::Block(_)) = (lead, entry) {
        let at = prologue.map_or(0, |e| e + 1);
        let shift = |t: Target| match t {
            Target::Block(i) if i >= at => Target::Block(i + 1),
            other => other,
        };
        for b in &mut blocks {
            b.jt = shift(b.jt);
            b.jf = shift(b.jf);
        }
        let first = match prologue {
            Some(e) => blocks[e].jt,
            None => shift(entry),
        };
        blocks.insert(
            at,
            Block {
                stmts: vec![Insn::stmt(BPF_LD | BPF_IMM, k)],
                arith: false,
                x_const: None,
                vn: None,
                impure: false,
                code: BPF_JMP | BPF_JEQ | BPF_K,
                k: 0,
                jt: first,
                jf: first,
            },
        );
        match prologue {
            Some(e) => blocks[e].jt = Target::Block(at),
            None => entry = Target::Block(0),
        }
    }
    let root_test = match prologue {
        Some(e) => blocks[e].jt,
        None => entry,
    };
    optimize(&mut blocks, &mut entry);
    // libpcap's opt_root(): the root moves past passthroughs only now. A
    // prologue is part of libpcap's root block, so when that block (with
    // its first test) became a passthrough to a return, only the return is
    // left (the root's statements go with it: a return needs none).
    entry = resolve(&blocks, entry);
    if let Some(e) = prologue
        && entry == Target::Block(e)
        && blocks[e].jt == blocks[e].jf
    {
        let next = resolve(&blocks, blocks[e].jt);
        if !matches!(next, Target::Block(_)) {
            entry = next;
        }
    }
    // libpcap's opt_root(): when its root block (the expression's first
    // test) became a passthrough, the optimiser moves the root to the block
    // the passthrough leads to and keeps the old root's statements in front
    // of the new root's (`ldb [4]` of a link-type test that later tests
    // decided either way). Until then the old root stays the new root's only
    // predecessor: the new root's loads of what the old one loaded are
    // redundant. A constant root (gen_true/gen_false) keeps its `ld #k`.
    let mut prefix = match (root_test, lead) {
        (_, Some(k)) => vec![Insn::stmt(BPF_LD | BPF_IMM, k)],
        (Target::Block(r), None) if blocks[r].jt == blocks[r].jf && !blocks[r].impure => {
            blocks[r].stmts.clone()
        }
        _ => Vec::new(),
    };
    // With a prologue, the kept statements follow it: they end libpcap's
    // root block, and the block after it starts from what they leave.
    let kept = !prefix.is_empty();
    if let Some(e) = prologue
        && matches!(entry, Target::Block(_))
    {
        blocks[e].stmts.append(&mut prefix);
    }
    // libpcap's second phase: arithmetic relations' `and x` is `and #k` now,
    // and its peephole turns `and #k; jeq #0` into `jset #k` — unless the
    // `and` is all that is left of the block (see `and_left_alone`).
    let alone = and_left_alone(&blocks, entry, &prefix);
    for (b, alone) in blocks.iter_mut().zip(alone) {
        if std::mem::take(&mut b.arith) && b.jt != b.jf && !alone {
            let _ = fold_block(b);
        }
    }
    match entry {
        Target::Reject => None,
        Target::Accept => Some(vec![Insn::stmt(BPF_RET | BPF_K, accept)]),
        Target::Block(_) => {
            drop_dead_x_before_chain(&mut blocks, entry);
            let before = slots_read(&blocks, entry);
            let live_out = live_out(&blocks);
            let emptied = eliminate_redundant_loads(&mut blocks, entry, &live_out, &prefix);
            // libpcap empties a block whose statements leave A and X as they
            // were only when nothing after it uses a register or slot it
            // could set (`out_use == 0`); that makes it optimise once more.
            let again = emptied
                .iter()
                .zip(&live_out)
                .any(|(&e, &out)| e && out == 0);
            eliminate_dead_stores(&mut blocks, entry, &before, again);
            if let (Some(e), Target::Block(b)) = (prologue, entry)
                && e == b
            {
                drop_dead_prologue(&mut blocks, e, kept);
            }
            // Blocks whose remaining code and successors are identical can be
            // shared even though their predecessors leave different values in
            // the registers: the same code does the same thing from each state.
            let mut entry = entry;
            merge_identical(&mut blocks, &mut entry);
            // libpcap's opt_root() runs after intern_blocks(): a root whose
            // two successors were merged is a passthrough now and the root
            // moves past it, keeping the statements of the original root
            // (its own when it was that one, those of the `prefix`
            // otherwise; a passthrough between loses its statements).
            if let Target::Block(r) = entry
                && prologue.is_none()
                && blocks[r].jt == blocks[r].jf
                && !straight(&blocks[r])
                && matches!(resolve(&blocks, entry), Target::Block(_))
            {
                if prefix.is_empty() {
                    prefix = std::mem::take(&mut blocks[r].stmts);
                }
                entry = resolve(&blocks, entry);
            }
            // The same with a prologue: its block and the first test are
            // libpcap's root block, so the statements kept follow it.
            if let (Some(e), Target::Block(b)) = (prologue, entry)
                && e == b
                && let Target::Block(r) = blocks[e].jt
                && blocks[r].jt == blocks[r].jf
                && !straight(&blocks[r])
                && matches!(resolve(&blocks, blocks[r].jt), Target::Block(_))
            {
                if !kept {
                    let mut stmts = std::mem::take(&mut blocks[r].stmts);
                    blocks[e].stmts.append(&mut stmts);
                }
                let next = resolve(&blocks, blocks[r].jt);
                blocks[e].jt = next;
                blocks[e].jf = next;
            }
            let mut insns = layout(blocks, entry, accept);
            // The statements libpcap's opt_root() kept of the root it moved
            // past (a constant root's `ld #k`), in front of the new root's.
            insns.splice(0..0, prefix);
            Some(insns)
        }
    }
}

/// Which arithmetic relations' blocks (`...; and #k; jeq #0`) keep their
/// `and` where libpcap's peephole would make it a `jset`: those whose
/// statements before the `and` all repeat what their predecessors left
/// (a relation's load at a constant offset after a test of the same
/// bytes). libpcap's second
/// phase turns `and x` into `and #k` and drops the repeated load in the
/// same pass (`opt_stmt` with `alter`, `vstore`); then `opt_peep` finds no
/// `last` statement, as it takes for `last` only an instruction that
/// follows another one (otherwise the block's first statement, now a nop),
/// and the `jset` rewrite never happens, on this pass or a later one. The
/// redundant load pass is run on a copy of the blocks as that pass sees
/// them: every relation still has its `and` (predecessors leave `A & k`).
fn and_left_alone(blocks: &[Block], entry: Target, prefix: &[Insn]) -> Vec<bool> {
    let mut alone = vec![false; blocks.len()];
    let candidate = |b: &Block| {
        b.arith
            && b.jt != b.jf
            && b.code == BPF_JMP | BPF_JEQ | BPF_K
            && b.k == 0
            && b.stmts.len() > 1
            && b.stmts.last().is_some_and(|s| s.code == BPF_ALU | BPF_AND | BPF_K)
            // Only a load at a constant offset: libpcap's index through a
            // run-time offset or the IPv4 header length leaves statements
            // of its own in that pass (`add x` of the index 0 becomes
            // `txa`, `ld #i; add x; tax` is folded by the same peephole).
            && !b.stmts.iter().any(|s| match class(s.code) {
                BPF_LDX | BPF_MISC => true,
                BPF_LD => mode(s.code) == BPF_IND,
                BPF_ALU => src(s.code) == BPF_X,
                _ => false,
            })
    };
    if !matches!(entry, Target::Block(_)) || !blocks.iter().any(candidate) {
        return alone;
    }
    let mut copy = blocks.to_vec();
    let live_out = live_out(&copy);
    let _ = eliminate_redundant_loads(&mut copy, entry, &live_out, prefix);
    for (i, b) in blocks.iter().enumerate() {
        alone[i] = candidate(b) && copy[i].stmts.len() == 1;
    }
    alone
}

/// A run-time prologue's block before optimising: `always(...)` (statements
/// that store the header length, `ld #0`, `jge #0`).
fn is_prologue(b: &Block) -> bool {
    is_prologue_code(&b.stmts, b.code, b.k)
}

fn is_prologue_code(stmts: &[Insn], code: u16, k: u32) -> bool {
    code == BPF_JMP | BPF_JGE | BPF_K
        && k == 0
        && stmts
            .last()
            .is_some_and(|s| s.code == BPF_LD | BPF_IMM && s.k == 0)
        && stmts.iter().any(|s| class(s.code) == BPF_ST)
}

/// The expression after a run-time prologue (`Gen::with_prologue`).
fn skip_prologue(c: &Cond) -> &Cond {
    match c {
        Cond::And(a, b) if matches!(&**a, Cond::Test(t) if is_prologue_code(&t.stmts, t.code, t.k)) => {
            b
        }
        _ => c,
    }
}

/// The `ld #k` of libpcap's constant block (`gen_uncond`: k = 0 for true, 1
/// for false) when the first test of `c` in evaluation order is a constant.
fn leading_constant(c: &Cond) -> Option<u32> {
    match c {
        Cond::True => Some(0),
        Cond::False => Some(1),
        Cond::Test(_) | Cond::Join => None,
        Cond::And(a, _) | Cond::Or(a, _) | Cond::Not(a) | Cond::If(a, _, _) => leading_constant(a),
        Cond::Shared(a) => leading_constant(a),
        Cond::Dual(opt, _) => leading_constant(opt),
    }
}

/// Compile a condition without optimising, as libpcap does when its code
/// generator turned the optimiser off (`no_optimize`: the 802.11 header
/// length and Prism prologues, `protochain`, `geneve`): every test is laid out
/// as generated, in libpcap's block order. Only blocks that always continue
/// (a prologue's stores) lose their constant test and become straight code.
pub(crate) fn compile_plain(root: &Cond, accept: u32, floor: u32) -> Vec<Insn> {
    let floor = Slots { floor, fixed: 0 };
    let mut rev = Vec::new();
    let entry = emit(
        root,
        Target::Accept,
        Target::Reject,
        &mut rev,
        &mut HashMap::new(),
        floor,
        true,
    );
    let n = rev.len();
    let fix = |t: Target| match t {
        Target::Block(i) => Target::Block(n - 1 - i),
        other => other,
    };
    let mut blocks: Vec<Block> = rev
        .into_iter()
        .rev()
        .map(|mut b| {
            b.jt = fix(b.jt);
            b.jf = fix(b.jf);
            b
        })
        .collect();
    for b in &mut blocks {
        // `always(...)`: statements, `ld #0`, `jge #0`.
        let constant = b.code == BPF_JMP | BPF_JGE | BPF_K
            && b.k == 0
            && b.stmts
                .last()
                .is_some_and(|s| s.code == BPF_LD | BPF_IMM && s.k == 0);
        if constant {
            b.stmts.pop();
            b.jf = b.jt;
            b.code = JA;
        }
    }
    // Straight blocks without statements are only joints.
    let skip = |blocks: &[Block], mut t: Target| {
        for _ in 0..=blocks.len() {
            match t {
                Target::Block(i) if blocks[i].code == JA && blocks[i].stmts.is_empty() => {
                    t = blocks[i].jt;
                }
                _ => break,
            }
        }
        t
    };
    let entry = skip(&blocks, fix(entry));
    for i in 0..blocks.len() {
        let (jt, jf) = (skip(&blocks, blocks[i].jt), skip(&blocks, blocks[i].jf));
        blocks[i].jt = jt;
        blocks[i].jf = jf;
    }
    match entry {
        Target::Block(_) => layout(blocks, entry, accept),
        Target::Accept => vec![Insn::stmt(BPF_RET | BPF_K, accept)],
        Target::Reject => vec![Insn::stmt(BPF_RET | BPF_K, 0)],
    }
}

// ---------------------------------------------------------------------------
// Per-block constant folding and dead statement elimination.

pub(crate) fn fold_alu(code: u16, a: u32, b: u32) -> Option<u32> {
    Some(match op(code) {
        BPF_ADD => a.wrapping_add(b),
        BPF_SUB => a.wrapping_sub(b),
        BPF_MUL => a.wrapping_mul(b),
        BPF_DIV => a.checked_div(b)?,
        BPF_MOD => a.checked_rem(b)?,
        BPF_AND => a & b,
        BPF_OR => a | b,
        BPF_XOR => a ^ b,
        BPF_LSH => a.checked_shl(b)?,
        BPF_RSH => a.checked_shr(b)?,
        BPF_NEG => a.wrapping_neg(),
        _ => return None,
    })
}

fn jump_taken(code: u16, a: u32, b: u32) -> bool {
    match op(code) {
        BPF_JEQ => a == b,
        BPF_JGT => a > b,
        BPF_JGE => a >= b,
        _ => a & b != 0,
    }
}

/// Fold constants inside a block; returns the decided outcome of its jump, if any.
fn fold_block(b: &mut Block) -> Option<bool> {
    let mut a: Option<u32> = None;
    let mut x: Option<u32> = None;
    let mut m: [Option<u32>; 16] = [None; 16];
    let slot = slot_index;
    for s in &mut b.stmts {
        match class(s.code) {
            c if c == BPF_LD => {
                a = match mode(s.code) {
                    BPF_IMM => Some(s.k),
                    BPF_MEM => slot(s.k).and_then(|i| m[i]),
                    _ => None,
                }
            }
            c if c == BPF_LDX => {
                x = match mode(s.code) {
                    BPF_IMM => Some(s.k),
                    BPF_MEM => slot(s.k).and_then(|i| m[i]),
                    _ => None,
                }
            }
            c if c == BPF_ST => {
                if let Some(i) = slot(s.k) {
                    m[i] = a;
                }
            }
            c if c == BPF_STX => {
                if let Some(i) = slot(s.k) {
                    m[i] = x;
                }
            }
            c if c == BPF_ALU => {
                if let Some(xv) = x.filter(|_| src(s.code) == BPF_X && op(s.code) != BPF_NEG) {
                    let shift_ok = !matches!(op(s.code), BPF_LSH | BPF_RSH) || xv < 32;
                    let div_ok = !matches!(op(s.code), BPF_DIV | BPF_MOD) || xv != 0;
                    if shift_ok && div_ok {
                        *s = Insn::stmt(BPF_ALU | op(s.code) | BPF_K, xv);
                    }
                }
                let operand = if src(s.code) == BPF_X { x } else { Some(s.k) };
                // libpcap's opt_stmt(): `op #0` does nothing for these, and
                // `and #0` / `mul #0` load 0.
                if src(s.code) == BPF_K && s.k == 0 {
                    match op(s.code) {
                        BPF_ADD | BPF_SUB | BPF_LSH | BPF_RSH | BPF_OR | BPF_XOR => {
                            *s = Insn::stmt(NOP, 0);
                            continue;
                        }
                        BPF_AND | BPF_MUL => {
                            a = Some(0);
                            *s = Insn::stmt(BPF_LD | BPF_IMM, 0);
                            continue;
                        }
                        _ => {}
                    }
                }
                a = match (a, operand) {
                    (Some(av), Some(bv)) => fold_alu(s.code, av, bv),
                    _ => None,
                };
                if let Some(v) = a {
                    *s = Insn::stmt(BPF_LD | BPF_IMM, v);
                }
            }
            c if c == BPF_MISC => {
                if miscop(s.code) == BPF_TAX {
                    x = a;
                } else {
                    a = x;
                }
            }
            _ => {}
        }
    }
    b.stmts.retain(|s| s.code != NOP);
    if b.code == JA {
        return None;
    }
    if let Some(xv) = x.filter(|_| src(b.code) == BPF_X) {
        b.code = BPF_JMP | op(b.code) | BPF_K;
        b.k = xv;
    }
    let operand = if src(b.code) == BPF_X {
        None
    } else {
        Some(b.k)
    };
    match (a, operand) {
        (Some(av), Some(bv)) => Some(jump_taken(b.code, av, bv)),
        _ => {
            // `and #m; jeq #0` is `jset #m` with the branches swapped.
            let is_jeq0 = b.code == BPF_JMP | BPF_JEQ | BPF_K && b.k == 0 && !b.impure && !b.arith;
            if let Some(last) = b
                .stmts
                .last()
                .copied()
                .filter(|s| is_jeq0 && s.code == BPF_ALU | BPF_AND | BPF_K)
            {
                b.stmts.pop();
                b.code = BPF_JMP | BPF_JSET | BPF_K;
                b.k = last.k;
                std::mem::swap(&mut b.jt, &mut b.jf);
            }
            None
        }
    }
}

/// Remove statements whose results are never used by the block's jump.
fn dce_block(b: &mut Block) {
    let mut live_a = b.code != JA;
    let mut live_x = b.code != JA && src(b.code) == BPF_X;
    let mut live_m = [false; 16];
    let slot = slot_index;
    let mut keep = vec![true; b.stmts.len()];
    for (i, s) in b.stmts.iter().enumerate().rev() {
        match class(s.code) {
            BPF_LD => {
                if !live_a {
                    keep[i] = false;
                    continue;
                }
                live_a = false;
                match mode(s.code) {
                    BPF_IND => live_x = true,
                    BPF_MEM => {
                        if let Some(j) = slot(s.k) {
                            live_m[j] = true;
                        }
                    }
                    _ => {}
                }
            }
            BPF_LDX => {
                if !live_x {
                    keep[i] = false;
                    continue;
                }
                live_x = false;
                if let Some(j) = slot(s.k).filter(|_| mode(s.code) == BPF_MEM) {
                    live_m[j] = true;
                }
            }
            BPF_ST | BPF_STX => {
                let Some(j) = slot(s.k) else { continue };
                if !live_m[j] {
                    keep[i] = false;
                    continue;
                }
                live_m[j] = false;
                if class(s.code) == BPF_ST {
                    live_a = true;
                } else {
                    live_x = true;
                }
            }
            BPF_ALU => {
                if !live_a {
                    keep[i] = false;
                    continue;
                }
                if src(s.code) == BPF_X && op(s.code) != BPF_NEG {
                    live_x = true;
                }
            }
            BPF_MISC => {
                if miscop(s.code) == BPF_TAX {
                    if !live_x {
                        keep[i] = false;
                        continue;
                    }
                    live_x = false;
                    live_a = true;
                } else {
                    if !live_a {
                        keep[i] = false;
                        continue;
                    }
                    live_a = false;
                    live_x = true;
                }
            }
            _ => {}
        }
    }
    let mut it = keep.into_iter();
    b.stmts.retain(|_| it.next().unwrap_or(true));
}

// ---------------------------------------------------------------------------
// Graph helpers.

fn resolve(blocks: &[Block], mut t: Target) -> Target {
    // Follow unconditional/passthrough blocks (jt == jf) without statements that matter.
    for _ in 0..blocks.len() + 1 {
        match t {
            Target::Block(i) => match blocks.get(i) {
                Some(b) if b.jt == b.jf && !b.impure => t = b.jt,
                _ => return t,
            },
            _ => return t,
        }
    }
    t
}

fn reachable(blocks: &[Block], entry: Target) -> Vec<bool> {
    let mut seen = vec![false; blocks.len()];
    if let Target::Block(e) = entry {
        seen[e] = true;
    }
    for i in 0..blocks.len() {
        if !seen[i] {
            continue;
        }
        for t in [blocks[i].jt, blocks[i].jf] {
            if let Target::Block(j) = t {
                seen[j] = true;
            }
        }
    }
    seen
}

/// Each live block's live predecessors, one entry per edge (a block whose
/// two edges go to the same place counts once).
fn predecessors(blocks: &[Block], live: &[bool]) -> Vec<Vec<usize>> {
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
    for (i, b) in blocks.iter().enumerate() {
        if !live[i] {
            continue;
        }
        let succ: &[Target] = if b.jt == b.jf { &[b.jt] } else { &[b.jt, b.jf] };
        for t in succ {
            if let Target::Block(j) = *t {
                preds[j].push(i);
            }
        }
    }
    preds
}

/// How many ways lead into each block: its live predecessors' edges (see
/// [`predecessors`]), and the entry for the entry block.
fn in_degrees(blocks: &[Block], entry: Target, live: &[bool]) -> Vec<usize> {
    let mut indeg: Vec<usize> = predecessors(blocks, live).iter().map(Vec::len).collect();
    if let Target::Block(e) = entry {
        indeg[e] += 1;
    }
    indeg
}

fn optimize(blocks: &mut [Block], entry: &mut Target) {
    for _ in 0..32 {
        let mut changed = false;
        // Constant folding: decided blocks become passthroughs.
        for b in blocks.iter_mut() {
            if b.jt == b.jf {
                continue;
            }
            if b.impure {
                // Keep every statement (they carry state); only settle the jump.
                let mut probe = b.clone();
                match fold_block(&mut probe) {
                    Some(true) => b.jf = b.jt,
                    Some(false) => b.jt = b.jf,
                    None => {
                        // `and #m; jeq #0` is `jset #m` with the branches
                        // swapped here too (the statements before stay).
                        let last = b.stmts.last().copied();
                        if let Some(m) = last.filter(|s| {
                            b.code == BPF_JMP | BPF_JEQ | BPF_K
                                && b.k == 0
                                && s.code == BPF_ALU | BPF_AND | BPF_K
                        }) {
                            b.stmts.pop();
                            b.code = BPF_JMP | BPF_JSET | BPF_K;
                            b.k = m.k;
                            std::mem::swap(&mut b.jt, &mut b.jf);
                            changed = true;
                        }
                        continue;
                    }
                }
                // No block reads A from another (until the last pass), so a
                // constant loaded only to settle the jump is dead now.
                if b.stmts.last().is_some_and(|s| s.code == BPF_LD | BPF_IMM) {
                    b.stmts.pop();
                }
                changed = true;
                continue;
            }
            match fold_block(b) {
                Some(true) => {
                    b.jf = b.jt;
                    changed = true;
                }
                Some(false) => {
                    b.jt = b.jf;
                    changed = true;
                }
                None => dce_block(b),
            }
        }
        // libpcap's jump threading, on the root it started with: the root
        // moves past a passthrough only at the end (see `compile`).
        if opt_j(blocks, *entry) {
            changed = true;
        }
        // Identical blocks are not merged here: libpcap's intern_blocks()
        // runs once, after value numbering removed the loads a path already
        // made (so a copy without its load stays a block of its own).
        if pullup(blocks, *entry) {
            changed = true;
        }
        if !changed {
            break;
        }
    }
}

// ---------------------------------------------------------------------------
// libpcap's jump threading (`opt_j`, `fold_edge`) on edge dominators.

/// libpcap's level lists (`find_levels`): a depth-first walk from the entry,
/// true successor first, gives each block its level (0 for the returns, one
/// more than its higher successor), and each level lists its blocks in the
/// reverse order the walk finished them (libpcap links each one in at the
/// head). `opt_j` and the pull-ups visit the blocks in this order, lowest
/// level first, and each edge they move changes what later ones see.
fn levels(blocks: &[Block], entry: Target) -> Vec<Vec<usize>> {
    let Target::Block(e) = entry else {
        return Vec::new();
    };
    let mut level: Vec<Option<usize>> = vec![None; blocks.len()];
    let mut seen = vec![false; blocks.len()];
    let mut lists: Vec<Vec<usize>> = vec![Vec::new()];
    let lvl = |level: &[Option<usize>], t: Target| match t {
        Target::Block(j) => level[j].unwrap_or(0),
        _ => 0,
    };
    // (block, successors visited so far)
    let mut stack = vec![(e, 0u8)];
    seen[e] = true;
    while let Some(&mut (b, ref mut step)) = stack.last_mut() {
        if *step < 2 {
            let t = if *step == 0 {
                blocks[b].jt
            } else {
                blocks[b].jf
            };
            *step += 1;
            if let Target::Block(j) = t
                && !seen[j]
            {
                seen[j] = true;
                stack.push((j, 0));
            }
            continue;
        }
        stack.pop();
        let l = lvl(&level, blocks[b].jt).max(lvl(&level, blocks[b].jf)) + 1;
        level[b] = Some(l);
        if lists.len() <= l {
            lists.resize(l + 1, Vec::new());
        }
        lists[l].push(b);
    }
    for list in &mut lists {
        list.reverse();
    }
    lists
}

/// A bit set over edges: edge `2 * b` is block `b`'s true edge, `2 * b + 1`
/// its false one.
type EdgeSet = Vec<u64>;

/// libpcap's edge dominators (`find_edom`): for each edge of a live block,
/// the edges every path from the entry to it takes, itself included.
/// Blocks are in topological order (every edge points forward), so one
/// forward sweep computes them.
fn edge_dominators(blocks: &[Block], entry: Target, live: &[bool]) -> Vec<Option<EdgeSet>> {
    let words = (2 * blocks.len()).div_ceil(64);
    let mut into: Vec<Option<EdgeSet>> = vec![None; blocks.len()];
    let mut edom: Vec<Option<EdgeSet>> = vec![None; 2 * blocks.len()];
    if let Target::Block(e) = entry {
        into[e] = Some(vec![0; words]);
    }
    for i in 0..blocks.len() {
        if !live[i] {
            continue;
        }
        let Some(base) = into[i].take() else { continue };
        for (side, t) in [blocks[i].jt, blocks[i].jf].into_iter().enumerate() {
            let id = 2 * i + side;
            let mut set = base.clone();
            set[id / 64] |= 1 << (id % 64);
            if let Target::Block(j) = t {
                into[j] = Some(match into[j].take() {
                    None => set.clone(),
                    Some(prev) => prev.iter().zip(&set).map(|(p, q)| p & q).collect(),
                });
            }
            edom[id] = Some(set);
        }
    }
    edom
}

/// libpcap's `fold_edge()`: where `child`'s test goes when the edge `d`
/// (block `p`'s true edge if `sense`) was taken, if that edge's test
/// decides it: the same jump on the same value (libpcap compares value
/// numbers; here the statements that compute the value, [`Block::key`])
/// with the same operand has the same outcome, and after `jeq #k` was
/// taken, `jeq` with another constant is false. Nothing else is known (no
/// ranges, no bits).
fn fold_edge(blocks: &[Block], child: usize, p: usize, sense: bool) -> Option<Target> {
    let (c, pb) = (&blocks[child], &blocks[p]);
    if c.impure || pb.impure || c.code == JA || c.code != pb.code || c.key() != pb.key() {
        return None;
    }
    if c.k == pb.k {
        return Some(if sense { c.jt } else { c.jf });
    }
    (sense && c.code == BPF_JMP | BPF_JEQ | BPF_K).then_some(c.jf)
}

/// One pass of libpcap's `opt_j()` over every edge, level by level from
/// the returns up (`opt_blks`): an edge to a pure passthrough goes past it,
/// then, for each edge dominating it (in libpcap's order: true edges
/// first), if that edge's test decides the successor's test, the edge
/// moves to the successor's successor, and the search starts again from
/// there. The dominators are those of the graph at the start of the pass
/// (libpcap computes them once a pass), so an edge can be threaded on a
/// test that an earlier move took off its path. A passthrough's two edges
/// are threaded separately: the root that lost its test (both edges to one
/// block) gets it back when the block after it tests the same value.
/// Returns whether an edge moved.
fn opt_j(blocks: &mut [Block], entry: Target) -> bool {
    let live = reachable(blocks, entry);
    let lists = levels(blocks, entry);
    let edom = edge_dominators(blocks, entry, &live);
    let n = blocks.len();
    let mut changed = false;
    let mut doms: Vec<usize> = Vec::new();
    for list in lists.iter().skip(1) {
        for &p in list {
            for side in [true, false] {
                let Some(dom) = &edom[2 * p + usize::from(!side)] else {
                    continue;
                };
                // libpcap numbers the true edges (even ids) before the false
                // ones, each in block order: listed in that order directly
                // (sorting them per edge was most of the compile time of a
                // large program).
                let has = |id: &usize| dom[id / 64] & (1 << (id % 64)) != 0;
                doms.clear();
                doms.extend((0..n).map(|b| 2 * b).filter(has));
                doms.extend((0..n).map(|b| 2 * b + 1).filter(has));
                let get = |blocks: &[Block]| if side { blocks[p].jt } else { blocks[p].jf };
                let set = |blocks: &mut [Block], t: Target| {
                    if side {
                        blocks[p].jt = t;
                    } else {
                        blocks[p].jf = t;
                    }
                };
                let Target::Block(s) = get(blocks) else {
                    continue;
                };
                let sb = &blocks[s];
                if sb.jt == sb.jf && !sb.impure && sb.code != JA {
                    set(blocks, sb.jt);
                    changed = true;
                }
                'top: while let Target::Block(s) = get(blocks) {
                    for &d in &doms {
                        if let Some(t) = fold_edge(blocks, s, d / 2, d % 2 == 0) {
                            set(blocks, t);
                            changed = true;
                            continue 'top;
                        }
                    }
                    break;
                }
            }
        }
    }
    changed
}

/// libpcap's `or_pullup()` / `and_pullup()`. In a chain of tests that all leave
/// to the same exit on success (`or`; on failure for `and`) and otherwise fall
/// to the next test, the order of the tests does not matter. When a test B is
/// followed by a chain D .. S whose last test S computes the same value as B,
/// S is moved up right after B, so the redundant load pass can reuse B's value
/// (`port 80 or 443` loads each port field once). The tests are moved by
/// rotating the contents of the chain's blocks, so every edge stays as it was
/// (and keeps pointing forward). Only pure tests whose sole predecessor is the
/// previous block of the chain are touched, so no other path sees a different
/// set of tests. Also libpcap's pull-up "at the top": when every predecessor
/// of a test B computes a value V that B does not, and a test S of V follows
/// B in its chain, S moves above B (B may have several predecessors there:
/// each of them now reaches S first, as in libpcap, where they all jump to
/// the pulled-up block). Like libpcap, this may change which of two
/// out-of-bounds loads happens first on a truncated packet.
fn pullup(blocks: &mut [Block], entry: Target) -> bool {
    let live = reachable(blocks, entry);
    let indeg = in_degrees(blocks, entry, &live);
    let is_test = |b: &Block| !b.impure && b.code != JA && b.jt != b.jf;
    let preds = predecessors(blocks, &live);
    let mut changed = false;
    for or in [true, false] {
        let exit = |b: &Block| if or { b.jt } else { b.jf };
        let next = |b: &Block| if or { b.jf } else { b.jt };
        for i in 0..blocks.len() {
            if !live[i] || !is_test(&blocks[i]) {
                continue;
            }
            let e = exit(&blocks[i]);
            let in_chain = |j: usize| {
                let b = &blocks[j];
                is_test(b) && exit(b) == e && indeg[j] == 1
            };
            let mut chain = Vec::new();
            let mut t = next(&blocks[i]);
            let found = loop {
                let Target::Block(j) = t else { break false };
                if !in_chain(j) {
                    break false;
                }
                let same = blocks[j].key() == blocks[i].key();
                if chain.is_empty() && same {
                    // Already adjacent.
                    break false;
                }
                chain.push(j);
                if same {
                    break true;
                }
                t = next(&blocks[j]);
            };
            if !found {
                // The pull-up "at the top" (`at_top` in libpcap): every
                // predecessor of B computes one value that B does not, and
                // a test S of that value follows B in its chain; S moves
                // above B, where all of B's predecessors now go (`ip and
                // (ip proto 6 or ip[0] = 0x45)` with `ip` two tests of one
                // byte: the second `ip`, after `proto 6`, moves up to the
                // join of the first one's two tests, which decide it).
                chain.clear();
                let Some(val) = preds[i].first().map(|&p| blocks[p].key()) else {
                    continue;
                };
                if blocks[i].key() == val
                    || !preds[i].iter().all(|&p| {
                        let pb = &blocks[p];
                        !pb.impure && pb.code != JA && pb.key() == val
                    })
                {
                    continue;
                }
                chain.push(i);
                let mut t = next(&blocks[i]);
                let found = loop {
                    let Target::Block(j) = t else { break false };
                    if !in_chain(j) {
                        break false;
                    }
                    chain.push(j);
                    if blocks[j].key() == val {
                        break true;
                    }
                    t = next(&blocks[j]);
                };
                if !found {
                    continue;
                }
            }
            // Each block of the chain takes its predecessor's test (the
            // first one S's), all of it but the edges.
            let mut carried = chain.last().map(|&s| blocks[s].clone());
            for &j in &chain {
                let here = blocks[j].clone();
                if let Some(test) = carried.replace(here) {
                    blocks[j] = Block {
                        jt: blocks[j].jt,
                        jf: blocks[j].jf,
                        ..test
                    };
                }
            }
            changed = true;
        }
    }
    changed
}

/// Merge blocks with identical statements, jump and (merged) successors,
/// working from the end so whole identical tails collapse.
fn merge_identical(blocks: &mut [Block], entry: &mut Target) -> bool {
    let live = reachable(blocks, *entry);
    let mut canon: Vec<usize> = (0..blocks.len()).collect();
    let mut seen: HashMap<(Vec<Insn>, u16, u32, Target, Target), usize> = HashMap::new();
    let map = |canon: &[usize], t: Target| match t {
        Target::Block(j) => Target::Block(canon[j]),
        other => other,
    };
    let mut changed = false;
    for i in (0..blocks.len()).rev() {
        if !live[i] {
            continue;
        }
        let jt = map(&canon, blocks[i].jt);
        let jf = map(&canon, blocks[i].jf);
        if (jt, jf) != (blocks[i].jt, blocks[i].jf) {
            blocks[i].jt = jt;
            blocks[i].jf = jf;
            changed = true;
        }
        let key = (blocks[i].stmts.clone(), blocks[i].code, blocks[i].k, jt, jf);
        match seen.get(&key) {
            Some(&rep) => {
                canon[i] = rep;
                changed = true;
            }
            None => {
                seen.insert(key, i);
            }
        }
    }
    *entry = map(&canon, *entry);
    changed
}

// ---------------------------------------------------------------------------
// Redundant load elimination across blocks (last pass: blocks stop being
// self-contained afterwards).

type Desc = Option<Vec<Insn>>;
const MAX_DESC: usize = 64;

fn cap(d: Vec<Insn>) -> Desc {
    (d.len() <= MAX_DESC).then_some(d)
}

/// The scratch slot `M[k]` names, if it is one of the 16.
fn slot_index(k: u32) -> Option<usize> {
    usize::try_from(k).ok().filter(|&i| i < 16)
}

#[derive(Clone, PartialEq, Eq)]
struct RegState {
    a: Desc,
    x: Desc,
    m: Vec<Desc>,
    /// What libpcap's value numbering holds for X where it differs from `x`:
    /// after an arithmetic relation whose libpcap code loaded a constant into
    /// X and pcapx's did not ([`Test::x_const`]).
    /// Used only by the "leaves A and X as they were" rule, never to drop a
    /// statement that reads X. Any statement that writes X resets it.
    x_lib: Option<Desc>,
}

impl RegState {
    fn unknown() -> Self {
        Self {
            a: None,
            x: None,
            m: vec![None; 16],
            x_lib: None,
        }
    }
    /// What `ld M[k]` / `ldx M[k]` loads: the value scratch slot `k` holds,
    /// a fresh one (from then on the slot's) if it is unknown; `None` for a
    /// slot out of range.
    fn slot_value(&mut self, k: u32, fresh: &mut dyn FnMut() -> Desc) -> Desc {
        let j = slot_index(k)?;
        if self.m[j].is_none() {
            self.m[j] = fresh();
        }
        self.m[j].clone()
    }
    /// libpcap's X: `x_lib` if set, else `x`.
    fn lib_x(&self) -> &Desc {
        self.x_lib.as_ref().unwrap_or(&self.x)
    }
    fn meet(&self, o: &RegState) -> RegState {
        let pick = |p: &Desc, q: &Desc| if p == q { p.clone() } else { None };
        let x = pick(&self.x, &o.x);
        let lib = pick(self.lib_x(), o.lib_x());
        RegState {
            a: pick(&self.a, &o.a),
            x_lib: (lib != x).then_some(lib),
            x,
            m: self.m.iter().zip(&o.m).map(|(p, q)| pick(p, q)).collect(),
        }
    }
}

/// Value numbering of one block's statements from the state `st` its
/// predecessors leave (updated to the state after them): the statements
/// that do not merely recompute what a register or slot already holds.
fn number_stmts(st: &mut RegState, stmts: &[Insn], fresh: &mut dyn FnMut() -> Desc) -> Vec<Insn> {
    let slot = slot_index;
    let mut out = Vec::with_capacity(stmts.len());
    for s in stmts.iter().copied() {
        let mut redundant = false;
        match class(s.code) {
            BPF_LD => {
                let new = match mode(s.code) {
                    BPF_MEM => st.slot_value(s.k, fresh),
                    BPF_IND => st.x.clone().and_then(|mut x| {
                        x.extend([Insn::stmt(BPF_MISC | BPF_TAX, 0), s]);
                        cap(x)
                    }),
                    _ => Some(vec![s]),
                };
                redundant = new.is_some() && new == st.a;
                st.a = new.or_else(&mut *fresh);
            }
            BPF_LDX => {
                let new = match mode(s.code) {
                    BPF_MEM => st.slot_value(s.k, fresh),
                    BPF_IMM => Some(vec![Insn::stmt(BPF_LD | BPF_IMM, s.k)]),
                    BPF_LEN => Some(vec![Insn::stmt(BPF_LD | BPF_LEN, 0)]),
                    BPF_MSH => Some(vec![s, Insn::stmt(BPF_MISC | BPF_TXA, 0)]),
                    _ => None,
                };
                redundant = new.is_some() && new == st.x;
                st.x = new.or_else(&mut *fresh);
                st.x_lib = None;
            }
            BPF_ST | BPF_STX => {
                if let Some(j) = slot(s.k) {
                    let v = if class(s.code) == BPF_ST {
                        st.a.clone()
                    } else {
                        st.x.clone()
                    };
                    redundant = v.is_some() && v == st.m[j];
                    st.m[j] = v;
                }
            }
            BPF_ALU => {
                st.a = if src(s.code) == BPF_K || op(s.code) == BPF_NEG {
                    st.a.take().and_then(|mut d| {
                        d.push(s);
                        cap(d)
                    })
                } else {
                    // libpcap numbers `A op X` by its operands' numbers:
                    // describe it by both descriptions (X's with its length
                    // first, so that the description is unambiguous).
                    match (st.a.take(), st.x.as_ref()) {
                        (Some(mut d), Some(x)) => {
                            d.push(Insn::stmt(
                                OPERAND,
                                u32::try_from(x.len()).unwrap_or(u32::MAX),
                            ));
                            d.extend_from_slice(x);
                            d.push(s);
                            cap(d)
                        }
                        _ => None,
                    }
                };
                if st.a.is_none() {
                    st.a = fresh();
                }
            }
            BPF_MISC => {
                if miscop(s.code) == BPF_TAX {
                    redundant = st.a.is_some() && st.a == st.x;
                    st.x = st.a.clone();
                    st.x_lib = None;
                } else {
                    redundant = st.x.is_some() && st.a == st.x;
                    st.a = st.x.clone();
                }
            }
            _ => {}
        }
        if !redundant {
            out.push(s);
        }
    }
    out
}

/// Returns which blocks lost every statement.
/// `prefix`: the statements of libpcap's old root in front of the entry
/// (see `compile`); the entry block starts from what they leave.
fn eliminate_redundant_loads(
    blocks: &mut [Block],
    entry: Target,
    live_out: &[u32],
    prefix: &[Insn],
) -> Vec<bool> {
    let live = reachable(blocks, entry);
    let mut incoming: Vec<Option<RegState>> = vec![None; blocks.len()];
    // A value nothing describes gets a number of its own (libpcap's value
    // numbering): a copy of it (`st M[k]`, `tax`) is then known to equal it.
    let mut next_token = 0u32;
    let mut fresh = || {
        next_token += 1;
        Some(vec![Insn::stmt(TOKEN, next_token)])
    };
    if let Target::Block(e) = entry {
        let mut st = RegState::unknown();
        let _ = number_stmts(&mut st, prefix, &mut fresh);
        incoming[e] = Some(st);
    }
    let mut emptied = vec![false; blocks.len()];
    for i in 0..blocks.len() {
        if !live[i] {
            continue;
        }
        let mut st = incoming[i].take().unwrap_or_else(RegState::unknown);
        let st_in = st.clone();
        let (a_in, x_in, lib_x_in) = (st.a.clone(), st.x.clone(), st.lib_x().clone());
        let mut out = number_stmts(&mut st, &blocks[i].stmts, &mut fresh);
        // libpcap's relation left a constant in X (see `Test::x_const`).
        if let Some(k) = blocks[i].x_const {
            let k = Some(vec![Insn::stmt(BPF_LD | BPF_IMM, k)]);
            st.x_lib = (k != st.x).then_some(k);
        }
        // libpcap's opt_blk(): a block that leaves A and X as it found them
        // (both known) loses all its statements when nothing after it uses
        // any register or slot. libpcap checks this on every pass: on the
        // first of its second phase X still holds the constants of
        // relations' `ldx #k` (`lib_x`), on later ones those `ldx` are gone
        // and X is what pcapx's statements leave (`x`). The jump must still
        // find X if it reads it.
        let x_first_pass =
            lib_x_in.is_some() && *st.lib_x() == lib_x_in && src(blocks[i].code) == BPF_K;
        let x_later = x_in.is_some() && st.x == x_in;
        let x_kept = x_first_pass || x_later;
        if live_out[i] == 0 && a_in.is_some() && st.a == a_in && x_kept {
            out.clear();
        } else if live_out[i] & LIVE_X == 0 && fold_index(&mut out) {
            // libpcap's next pass numbers the folded statements again: X
            // keeps the value it had before the folded `add x`, and a load
            // the fold made the same as one before it is redundant then
            // (PFLOG `tcp and ip[9] = 6`: `ldx M[0]; ldb [x + 9]` twice).
            // (`ip[0] = ip[1] + ip[2]`: each fold makes the next index's
            // `ldx M[r]` redundant, and libpcap's passes go on folding)
            st = st_in.clone();
            out = number_stmts(&mut st, &out, &mut fresh);
            while fold_index(&mut out) {
                st = st_in.clone();
                out = number_stmts(&mut st, &out, &mut fresh);
            }
            st.x_lib = None;
            if live_out[i] == 0 && a_in.is_some() && st.a == a_in && x_in.is_some() && st.x == x_in
            {
                out.clear();
            }
        }
        emptied[i] = out.is_empty() && !blocks[i].stmts.is_empty();
        blocks[i].stmts = out;
        for t in [blocks[i].jt, blocks[i].jf] {
            if let Target::Block(j) = t {
                incoming[j] = Some(match incoming[j].take() {
                    None => st.clone(),
                    Some(prev) => prev.meet(&st),
                });
            }
        }
    }
    emptied
}

/// libpcap's `deadstmt()` on its root block when that holds a run-time
/// prologue (PFLOG's header length): once nothing reads the header length
/// (the tests that did were threaded away, and the dead-store pass dropped
/// the `st`), the statements computing it are definitions of A that the
/// next one overwrites unread, and libpcap's repeated passes drop them one
/// by one. `kept`: the root's own test was decided, its statements end the
/// block (libpcap's root jump still reads their A); otherwise A is live at
/// the end only when the block after the prologue reads it first.
fn drop_dead_prologue(blocks: &mut [Block], e: usize, kept: bool) {
    let reads_a_first = |b: &Block| {
        for s in &b.stmts {
            match class(s.code) {
                BPF_ALU | BPF_ST => return true,
                BPF_MISC if miscop(s.code) == BPF_TAX => return true,
                BPF_LD => return false,
                BPF_MISC => return false,
                _ => {}
            }
        }
        b.code != JA && b.jt != b.jf
    };
    let mut a_live = kept
        || match blocks[e].jt {
            Target::Block(j) => reads_a_first(&blocks[j]),
            _ => false,
        };
    let stmts = &blocks[e].stmts;
    let mut keep = vec![true; stmts.len()];
    for (n, s) in stmts.iter().enumerate().rev() {
        match class(s.code) {
            BPF_LD => {
                keep[n] = a_live;
                a_live = false;
            }
            BPF_ALU => keep[n] = a_live,
            BPF_ST => a_live = true,
            BPF_MISC if miscop(s.code) == BPF_TAX => a_live = true,
            BPF_MISC => {
                keep[n] = a_live;
                a_live = false;
            }
            _ => {}
        }
    }
    let mut it = keep.into_iter();
    blocks[e].stmts.retain(|_| it.next().unwrap_or(true));
}

/// A straight block (a run-time prologue) and the only block after it are one
/// block in libpcap, where `deadstmt()` drops a `tax`/`ldx` whose X the
/// second part overwrites before reading it (`st M[r]; tax` then `ld #k;
/// ldx M[r]; add x`). Dropping it keeps the later `ldx M[r]` and the store.
fn drop_dead_x_before_chain(blocks: &mut [Block], entry: Target) {
    let live = reachable(blocks, entry);
    let indeg = in_degrees(blocks, entry, &live);
    let uses_x = |s: &Insn| match class(s.code) {
        BPF_LD => mode(s.code) == BPF_IND,
        BPF_ALU => src(s.code) == BPF_X,
        BPF_STX => true,
        BPF_MISC => miscop(s.code) == BPF_TXA,
        _ => false,
    };
    let defs_x = |s: &Insn| {
        class(s.code) == BPF_LDX || (class(s.code) == BPF_MISC && miscop(s.code) == BPF_TAX)
    };
    for i in 0..blocks.len() {
        let b = &blocks[i];
        let jump_reads_x = b.code != JA && src(b.code) == BPF_X;
        if !live[i] || !(b.jt == b.jf || b.code == JA) || jump_reads_x {
            continue;
        }
        let Target::Block(j) = b.jt else { continue };
        if indeg[j] != 1 {
            continue;
        }
        // Does block j overwrite X before reading it?
        let next = &blocks[j];
        let mut overwritten = false;
        for s in &next.stmts {
            if uses_x(s) {
                break;
            }
            if defs_x(s) {
                overwritten = true;
                break;
            }
        }
        if !overwritten {
            continue;
        }
        // The last definition of X in block i, if nothing after it reads X.
        let stmts = &blocks[i].stmts;
        let mut drop = None;
        for (n, s) in stmts.iter().enumerate().rev() {
            if uses_x(s) {
                break;
            }
            if defs_x(s) {
                drop = Some(n);
                break;
            }
        }
        // libpcap's peephole turns `st M[k]; ldx M[k]` into `st M[k]; tax`
        // again.
        let restored = drop.is_some_and(|n| {
            n + 1 == stmts.len()
                && n > 0
                && stmts[n - 1].code == BPF_ST
                && next
                    .stmts
                    .first()
                    .is_some_and(|f| f.code == BPF_LDX | BPF_MEM && f.k == stmts[n - 1].k)
        });
        if let (Some(n), false) = (drop, restored) {
            blocks[i].stmts.remove(n);
        }
    }
}

/// The X bit of [`live_out`].
const LIVE_X: u32 = 1 << 17;

/// libpcap's `opt_peep()` index folding, once value numbering removed a
/// redundant `ldx M[r]`: `ld #k; [ldx 4*([j]&0xf);] add x; tax; ld [x + m]`
/// becomes `[ldx 4*([j]&0xf);] ld [x + k + m]` when nothing after the block
/// uses X (libpcap checks only that, not the rest of the block).
fn fold_index(stmts: &mut Vec<Insn>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < stmts.len() {
        if stmts[i].code != BPF_LD | BPF_IMM {
            i += 1;
            continue;
        }
        let msh = stmts
            .get(i + 1)
            .is_some_and(|s| s.code == BPF_LDX | BPF_MSH | crate::insn::BPF_B);
        let add = i + 1 + usize::from(msh);
        let ok = stmts
            .get(add)
            .is_some_and(|s| s.code == BPF_ALU | BPF_ADD | BPF_X)
            && stmts
                .get(add + 1)
                .is_some_and(|s| s.code == BPF_MISC | BPF_TAX)
            && stmts
                .get(add + 2)
                .is_some_and(|s| class(s.code) == BPF_LD && mode(s.code) == BPF_IND);
        if !ok {
            i += 1;
            continue;
        }
        let k = stmts[i].k;
        stmts[add + 2].k = stmts[add + 2].k.wrapping_add(k);
        stmts.drain(add..add + 2);
        stmts.remove(i);
        changed = true;
    }
    changed
}

/// libpcap's `find_ud()` on blocks that are still self-contained: for each
/// block, the atoms (scratch slots 0..16, A as bit 16, X as bit 17) that a
/// block after it reads before writing them (its `out_use`).
fn live_out(blocks: &[Block]) -> Vec<u32> {
    const A: u32 = 1 << 16;
    const X: u32 = LIVE_X;
    let slot = |k: u32| if k < 16 { 1u32 << k } else { 0 };
    // (use, def) per block
    let local = |b: &Block| {
        let (mut uses, mut defs) = (0u32, 0u32);
        let mut read = |atoms: u32, defs: u32| uses |= atoms & !defs;
        for s in &b.stmts {
            let (u, d) = match class(s.code) {
                BPF_LD => match mode(s.code) {
                    BPF_MEM => (slot(s.k), A),
                    BPF_IND => (X, A),
                    _ => (0, A),
                },
                BPF_LDX => match mode(s.code) {
                    BPF_MEM => (slot(s.k), X),
                    _ => (0, X),
                },
                BPF_ST => (A, slot(s.k)),
                BPF_STX => (X, slot(s.k)),
                BPF_ALU if src(s.code) == BPF_X => (A | X, A),
                BPF_ALU => (A, A),
                BPF_MISC if miscop(s.code) == BPF_TAX => (A, X),
                BPF_MISC => (X, A),
                _ => (0, 0),
            };
            read(u, defs);
            defs |= d;
        }
        if b.code != JA {
            let u = if src(b.code) == BPF_X { A | X } else { A };
            read(u, defs);
        }
        (uses, defs)
    };
    let mut in_use = vec![0u32; blocks.len()];
    let mut out = vec![0u32; blocks.len()];
    // Edges point forward: one backward sweep settles it.
    for i in (0..blocks.len()).rev() {
        let b = &blocks[i];
        for t in [b.jt, b.jf] {
            if let Target::Block(j) = t {
                out[i] |= in_use[j];
            }
        }
        let (u, d) = local(b);
        in_use[i] = u | (out[i] & !d);
    }
    out
}

/// Which slots each live block reads (`ld`/`ldx M[k]`).
fn slots_read(blocks: &[Block], entry: Target) -> Vec<[bool; 16]> {
    let live = reachable(blocks, entry);
    let mut read = vec![[false; 16]; blocks.len()];
    for (i, b) in blocks.iter().enumerate() {
        if !live[i] {
            continue;
        }
        for s in &b.stmts {
            if matches!(class(s.code), BPF_LD | BPF_LDX)
                && mode(s.code) == BPF_MEM
                && let Some(r) = read[i].get_mut(s.k as usize)
            {
                *r = true;
            }
        }
    }
    read
}

/// libpcap's opt_deadstores() as it turns out on its blocks: a store whose
/// slot nothing reads any more is dropped, unless, before the redundant loads
/// were removed, a block of its own read the slot (libpcap's blocks would
/// then still count the slot as used). A chain of straight blocks, each the
/// only way into the next, counts as one block, as it is one in libpcap.
/// When a block was emptied, libpcap optimises once more and every store
/// nothing reads goes (`again`).
fn eliminate_dead_stores(blocks: &mut [Block], entry: Target, before: &[[bool; 16]], again: bool) {
    let live = reachable(blocks, entry);
    let now = slots_read(blocks, entry);
    let indeg = in_degrees(blocks, entry, &live);
    // The chain (libpcap block) each block belongs to: its first block.
    let mut chain: Vec<usize> = (0..blocks.len()).collect();
    for i in 0..blocks.len() {
        let b = &blocks[i];
        if live[i]
            && (b.jt == b.jf || b.code == JA)
            && let Target::Block(j) = b.jt
            && indeg[j] == 1
            && j > i
        {
            chain[j] = chain[i];
        }
    }
    let mut read_now = [false; 16];
    // blocks reading each slot before, in all and per chain
    let mut total = [0usize; 16];
    let mut per_chain = vec![[0usize; 16]; blocks.len()];
    for i in 0..blocks.len() {
        for k in 0..16 {
            read_now[k] |= now[i][k];
            if before.get(i).is_some_and(|r| r[k]) {
                total[k] += 1;
                per_chain[chain[i]][k] += 1;
            }
        }
    }
    let read_elsewhere = |c: usize, k: usize| total[k] > per_chain.get(c).map_or(0, |p| p[k]);
    for (i, b) in blocks.iter_mut().enumerate() {
        if !live[i] {
            continue;
        }
        let c = chain[i];
        b.stmts.retain(|s| {
            let k = s.k as usize;
            !matches!(class(s.code), BPF_ST | BPF_STX)
                || k >= 16
                || read_now[k]
                || (!again && read_elsewhere(c, k))
        });
    }
}

// ---------------------------------------------------------------------------
// Layout.

/// libpcap's emission order (`convert_code_r` in optimize.c): the program is
/// written backwards in a depth-first walk that finishes a block after its
/// false then its true successor, so the layout is the reverse post-order with
/// the false branch visited first. The two returns are ordinary nodes of the
/// walk, laid out where libpcap puts them (`not vlan` ends `ret #0`,
/// `ret #262144`), and only when reachable.
fn libpcap_order(blocks: &[Block], entry: Target) -> Vec<Target> {
    let mut seen_blocks = vec![false; blocks.len()];
    let (mut seen_accept, mut seen_reject) = (false, false);
    let mut post = Vec::new();
    // (node, successors already pushed)
    let mut stack = vec![(entry, false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            post.push(t);
            continue;
        }
        let seen = match t {
            Target::Block(i) => &mut seen_blocks[i],
            Target::Accept => &mut seen_accept,
            Target::Reject => &mut seen_reject,
        };
        if *seen {
            continue;
        }
        *seen = true;
        stack.push((t, true));
        if let Target::Block(i) = t {
            // Popped in reverse: the false successor is walked first.
            stack.push((blocks[i].jt, false));
            stack.push((blocks[i].jf, false));
        }
    }
    post.reverse();
    post
}

/// A block laid out as straight code (an unconditional jump, left out
/// before its target): an unconditional block, or a passthrough that
/// carries state (a run-time prologue, part of the next libpcap block). A
/// pure test whose two edges go to one block (two identical successors
/// merged by `merge_identical`, libpcap's `intern_blocks`, which runs after
/// jump threading) keeps its conditional jump, as in libpcap.
fn straight(b: &Block) -> bool {
    b.code == JA || (b.jt == b.jf && b.impure)
}

fn layout(mut blocks: Vec<Block>, entry: Target, accept: u32) -> Vec<Insn> {
    let mut order = libpcap_order(&blocks, entry);
    let len = |t: Target, blocks: &[Block]| match t {
        Target::Block(i) => blocks[i].stmts.len(),
        _ => 0,
    };
    loop {
        // An unconditional jump to the node laid out next is left out.
        let falls_through: Vec<bool> = (0..order.len())
            .map(|pos| match order[pos] {
                Target::Block(i) => {
                    let b = &blocks[i];
                    straight(b) && order.get(pos + 1) == Some(&b.jt)
                }
                _ => false,
            })
            .collect();
        // Instruction index of each node's first instruction.
        let mut start = vec![0usize; blocks.len()];
        let (mut accept_pc, mut reject_pc) = (0usize, 0usize);
        let mut pc = 0usize;
        for (pos, &t) in order.iter().enumerate() {
            match t {
                Target::Block(i) => start[i] = pc,
                Target::Accept => accept_pc = pc,
                Target::Reject => reject_pc = pc,
            }
            pc += len(t, &blocks) + usize::from(!falls_through[pos]);
        }
        let addr = |t: Target| match t {
            Target::Block(j) => start[j],
            Target::Accept => accept_pc,
            Target::Reject => reject_pc,
        };
        // Find a conditional jump that is too far and give it a trampoline.
        let mut fixed = false;
        for pos in 0..order.len() {
            let Target::Block(i) = order[pos] else {
                continue;
            };
            let b = &blocks[i];
            if straight(b) {
                continue;
            }
            let from = start[i] + b.stmts.len() + 1;
            for is_true in [true, false] {
                let t = if is_true { b.jt } else { b.jf };
                if addr(t).saturating_sub(from) > 255 {
                    blocks.push(Block {
                        stmts: Vec::new(),
                        impure: false,
                        arith: false,
                        x_const: None,
                        vn: None,
                        code: JA,
                        k: 0,
                        jt: t,
                        jf: t,
                    });
                    let tramp = blocks.len() - 1;
                    if is_true {
                        blocks[i].jt = Target::Block(tramp);
                    } else {
                        blocks[i].jf = Target::Block(tramp);
                    }
                    order.insert(pos + 1, Target::Block(tramp));
                    fixed = true;
                    break;
                }
            }
            if fixed {
                break;
            }
        }
        if fixed {
            continue;
        }
        let mut out = Vec::with_capacity(pc);
        for (pos, &t) in order.iter().enumerate() {
            let i = match t {
                Target::Block(i) => i,
                Target::Accept => {
                    out.push(Insn::stmt(BPF_RET | BPF_K, accept));
                    continue;
                }
                Target::Reject => {
                    out.push(Insn::stmt(BPF_RET | BPF_K, 0));
                    continue;
                }
            };
            let b = &blocks[i];
            out.extend_from_slice(&b.stmts);
            if falls_through[pos] {
                continue;
            }
            let from = out.len() + 1;
            if straight(b) {
                let off = u32::try_from(addr(b.jt).saturating_sub(from)).unwrap_or(u32::MAX);
                out.push(Insn::stmt(JA, off));
            } else {
                let jt = u8::try_from(addr(b.jt).saturating_sub(from)).unwrap_or(u8::MAX);
                let jf = u8::try_from(addr(b.jf).saturating_sub(from)).unwrap_or(u8::MAX);
                out.push(Insn::jump(b.code, b.k, jt, jf));
            }
        }
        return out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{BPF_ABS, BPF_B, BPF_H, dump};

    fn test(off: u32, k: u32) -> Cond {
        Cond::Test(Test {
            stmts: vec![Insn::stmt(BPF_LD | BPF_H | BPF_ABS, off)],
            code: BPF_JMP | BPF_JEQ | BPF_K,
            k,
            arith: false,
            x_const: None,
            vn: None,
        })
    }

    #[test]
    fn threading_removes_repeated_tests() {
        // (ether type 0x800 and x) or (ether type 0x800 and y): second type test threads.
        let byte = |k| {
            Cond::Test(Test {
                stmts: vec![Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 23)],
                code: BPF_JMP | BPF_JEQ | BPF_K,
                k,
                arith: false,
                x_const: None,
                vn: None,
            })
        };
        let c = Cond::or(
            Cond::and(test(12, 0x800), byte(6)),
            Cond::and(test(12, 0x800), byte(17)),
        );
        let p = compile(&c, 100, PC_NH, 0).unwrap();
        let d = dump(&p);
        assert_eq!(d.matches("ldh      [12]").count(), 1, "{d}");
        assert_eq!(d.matches("ldb      [23]").count(), 1, "{d}");
    }

    #[test]
    fn pullup_groups_tests_of_the_same_value() {
        // [0:2]==1 or [2:2]==1 or [0:2]==2 or [2:2]==2: each field loaded once.
        let c = Cond::or(
            Cond::or(test(0, 1), test(2, 1)),
            Cond::or(test(0, 2), test(2, 2)),
        );
        let p = compile(&c, 100, PC_NH, 0).unwrap();
        let d = dump(&p);
        assert_eq!(d.matches("ldh      [0]").count(), 1, "{d}");
        assert_eq!(d.matches("ldh      [2]").count(), 1, "{d}");
        assert_eq!(p.len(), 8, "{d}");
        let naive = |pkt: &[u8]| {
            let h = |o: usize| u16::from_be_bytes([pkt[o], pkt[o + 1]]);
            matches!(h(0), 1 | 2) || matches!(h(2), 1 | 2)
        };
        for a in 0..4u8 {
            for b in 0..4u8 {
                let pkt = [0, a, 0, b];
                assert_eq!(crate::vm::run(&p, &pkt, 4) != 0, naive(&pkt), "{pkt:?}");
            }
        }
    }

    #[test]
    fn pullup_at_a_join_decides_the_repeated_test() {
        // As `ip[0] = 0x45 and (ip proto 6 or ip[0] = 0x45)` on ARCnet, where
        // `ip` is [0:2]==1 or [0:2]==2: the second `ip` after the `proto`
        // test moves up to the join of the first `ip`'s two tests, which
        // decide it, so neither it nor the `proto` test stays.
        let ip = || Cond::or(test(0, 1), test(0, 2));
        let rel = || test(4, 0x45);
        let c = Cond::and(
            Cond::and(ip(), rel()),
            Cond::or(Cond::and(ip(), test(6, 6)), Cond::and(ip(), rel())),
        );
        let p = compile(&c, 100, PC_NH, 0).unwrap();
        let d = dump(&p);
        assert_eq!(d.matches("ldh      [6]").count(), 0, "{d}");
        assert_eq!(d.matches("ldh      [4]").count(), 1, "{d}");
        let naive = |pkt: &[u8]| {
            let h = |o: usize| u16::from_be_bytes([pkt[o], pkt[o + 1]]);
            matches!(h(0), 1 | 2) && h(4) == 0x45
        };
        for a in 0..4u8 {
            for r in [0x44, 0x45] {
                for q in [5, 6] {
                    let pkt = [0, a, 0, 0, 0, r, 0, q];
                    assert_eq!(crate::vm::run(&p, &pkt, 8) != 0, naive(&pkt), "{pkt:?}");
                }
            }
        }
    }

    #[test]
    fn contradiction_rejects_everything() {
        let c = Cond::and(test(12, 0x800), test(12, 0x86dd));
        assert!(compile(&c, 100, PC_NH, 0).is_none());
        assert_eq!(
            compile(&Cond::True, 7, PC_NH, 0).unwrap(),
            vec![Insn::stmt(BPF_RET | BPF_K, 7)]
        );
    }

    #[test]
    fn constant_folding() {
        let c = Cond::Test(Test {
            stmts: vec![
                Insn::stmt(BPF_LD | BPF_IMM, 2),
                Insn::stmt(BPF_ALU | BPF_ADD | BPF_K, 3),
            ],
            code: BPF_JMP | BPF_JEQ | BPF_K,
            k: 5,
            arith: false,
            x_const: None,
            vn: None,
        });
        assert_eq!(
            compile(&c, 9, PC_NH, 0).unwrap(),
            vec![Insn::stmt(BPF_RET | BPF_K, 9)]
        );
    }

    #[test]
    fn relation_constant_in_x_empties_a_recomputation() {
        // As SLIP `inbound and (ip or ip6)`: libpcap's `link[0] == 0` leaves
        // 0 in X, so the second test, which recomputes the `[1] & 0xf0` the
        // first left in A and leaves X alone, loses its statements.
        let version = |k| {
            Cond::Test(Test {
                stmts: vec![
                    Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 1),
                    Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0),
                ],
                code: BPF_JMP | BPF_JEQ | BPF_K,
                k,
                arith: false,
                x_const: None,
                vn: None,
            })
        };
        let program = |x_const| {
            let inbound = Cond::Test(Test {
                stmts: vec![Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 0)],
                code: BPF_JMP | BPF_JEQ | BPF_K,
                k: 0,
                arith: true,
                x_const,
                vn: None,
            });
            let c = Cond::and(inbound, Cond::or(version(0x40), version(0x60)));
            compile(&c, 1, PC_NH, 0).unwrap()
        };
        let d = dump(&program(Some(0)));
        assert_eq!(d.matches("and      #0xf0").count(), 1, "{d}");
        // Without the constant, X is unknown and both tests keep their code.
        let d = dump(&program(None));
        assert_eq!(d.matches("and      #0xf0").count(), 2, "{d}");
        let p = program(Some(0));
        for a in [0u8, 1] {
            for b in 0..=255u8 {
                let want = a == 0 && matches!(b & 0xf0, 0x40 | 0x60);
                assert_eq!(crate::vm::run(&p, &[a, b], 2) != 0, want, "{a} {b}");
            }
        }
    }

    #[test]
    fn long_jumps_get_trampolines() {
        let mut c = test(0, 0);
        for i in 1..200 {
            c = Cond::or(Cond::and(test(2 * i, i), test(2 * i + 1, i)), c);
        }
        let c = Cond::and(c, test(1000, 1));
        let p = compile(&c, 1, PC_NH, 0).unwrap();
        crate::vm::validate(&p).unwrap();
        assert!(p.iter().any(|i| i.code == JA));
    }
}
