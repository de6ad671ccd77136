//! The only `unsafe` of live capture: the `AF_PACKET` socket system calls,
//! the TPACKET_V3 ring's memory map, the interface ioctls and the stop-signal
//! handler. Everything is wrapped in safe types: [`Socket`] (an owned packet
//! socket), [`Ring`] (the mapped block ring, handing out a block's bytes only
//! while user space owns it) and a few functions. Nothing here interprets
//! packet bytes; `live/mod.rs` parses blocks with bounds-checked reads.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// `tp_status` / `block_status` value: the block belongs to the kernel.
const TP_STATUS_KERNEL: u32 = 0;
/// `block_status` bit: the block belongs to user space.
pub const TP_STATUS_USER: u32 = 1;
/// Offset of `hdr.bh1.block_status` in `struct tpacket_block_desc`.
const BLOCK_STATUS_OFFSET: usize = 8;

/// `ETH_P_ALL` in network byte order, as `bind` and `socket` want it.
fn eth_p_all_be() -> u16 {
    u16::try_from(libc::ETH_P_ALL).unwrap_or(3).to_be()
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn sockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `val` is a valid, initialised `T` for the duration of the call
    // and `len` is exactly its size; the kernel only reads it.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(val).cast::<libc::c_void>(),
            len,
        )
    };
    cvt(ret).map(|_| ())
}

/// An open `AF_PACKET` socket (closed on drop, which also removes its
/// promiscuous membership and unmaps nothing: see [`Ring`]).
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
}

/// `tpacket_stats_v3` counters since the previous call.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelStats {
    /// Packets that passed the filter (the kernel adds the drops in).
    pub packets: u32,
    /// Packets the filter accepted but the ring had no room for.
    pub drops: u32,
}

impl Socket {
    /// A packet socket that receives nothing until [`Socket::bind`]
    /// (protocol 0), so the ring and filter are in place before the first
    /// packet. `cooked`: `SOCK_DGRAM` (no link-layer header) instead of `SOCK_RAW`.
    pub fn open(cooked: bool) -> io::Result<Socket> {
        let ty = if cooked {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_RAW
        };
        // SAFETY: plain system call with constant arguments; no pointers.
        let fd = cvt(unsafe { libc::socket(libc::AF_PACKET, ty | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: `fd` was just returned by socket(2), is open and owned by
        // nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Socket { fd })
    }

    /// `PACKET_VERSION` = `TPACKET_V3`.
    pub fn set_tpacket_v3(&self) -> io::Result<()> {
        let v: libc::c_int = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        sockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v)
    }

    /// `SO_RCVBUF`-independent ring: `PACKET_RX_RING` with `tpacket_req3`.
    fn set_rx_ring(&self, req: &libc::tpacket_req3) -> io::Result<()> {
        sockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_RX_RING, req)
    }

    /// `SO_ATTACH_FILTER` with a classic BPF program given as
    /// `(code, jt, jf, k)` instructions.
    pub fn attach_filter(&self, insns: &[(u16, u8, u8, u32)]) -> io::Result<()> {
        let mut prog: Vec<libc::sock_filter> = insns
            .iter()
            .map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
            .collect();
        let len =
            u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let fprog = libc::sock_fprog {
            len,
            filter: prog.as_mut_ptr(),
        };
        // `prog` outlives the call; the kernel copies the program.
        sockopt(&self.fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
    }

    /// Promiscuous mode on `ifindex` for as long as the socket is open
    /// (`PACKET_ADD_MEMBERSHIP`, `PACKET_MR_PROMISC`).
    pub fn add_promisc(&self, ifindex: i32) -> io::Result<()> {
        let mr = libc::packet_mreq {
            mr_ifindex: ifindex,
            mr_type: u16::try_from(libc::PACKET_MR_PROMISC).unwrap_or(1),
            mr_alen: 0,
            mr_address: [0; 8],
        };
        sockopt(&self.fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mr)
    }

    /// Binds to `ifindex` (0: every interface) for all protocols; packets
    /// start arriving.
    pub fn bind(&self, ifindex: i32) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = u16::try_from(libc::AF_PACKET).unwrap_or(17);
        sll.sll_protocol = eth_p_all_be();
        sll.sll_ifindex = ifindex;
        let len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `sll` is a valid sockaddr_ll that lives across the call and
        // `len` is its size.
        let ret = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                std::ptr::from_ref(&sll).cast::<libc::sockaddr>(),
                len,
            )
        };
        cvt(ret)?;
        self.pending_error()
    }

    /// The socket's pending error (`SO_ERROR`), e.g. `ENETDOWN` after binding
    /// to an interface that is down.
    pub fn pending_error(&self) -> io::Result<()> {
        let mut err: libc::c_int = 0;
        let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `err` and `len` are valid for writes of their sizes.
        let ret = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                std::ptr::from_mut(&mut err).cast::<libc::c_void>(),
                &raw mut len,
            )
        };
        cvt(ret)?;
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        Ok(())
    }

    /// `PACKET_STATISTICS` (reading resets the kernel's counters).
    pub fn stats(&self) -> io::Result<KernelStats> {
        // SAFETY: tpacket_stats_v3 is plain old data; all-zero is valid.
        let mut st: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
        let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::tpacket_stats_v3>())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `st` and `len` are valid for writes of their sizes; the
        // kernel writes at most `len` bytes.
        let ret = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                std::ptr::from_mut(&mut st).cast::<libc::c_void>(),
                &raw mut len,
            )
        };
        cvt(ret)?;
        Ok(KernelStats {
            packets: st.tp_packets,
            drops: st.tp_drops,
        })
    }
}

/// Interface flags (`SIOCGIFFLAGS`) and hardware type (`SIOCGIFHWADDR`, an
/// `ARPHRD_` value) of `name`, asked through a UDP socket (no privilege needed).
pub fn interface_flags_and_type(name: &str) -> io::Result<(u32, u16)> {
    // SAFETY: plain system call with constant arguments; no pointers.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = ifreq(name)?;
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name; the
    // kernel writes the flags into its union.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &raw mut req) })?;
    // SAFETY: after SIOCGIFFLAGS the union holds `ifru_flags`.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    let mut req = ifreq(name)?;
    // SAFETY: as above; the kernel writes a sockaddr into the union.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &raw mut req) })?;
    // SAFETY: after SIOCGIFHWADDR the union holds `ifru_hwaddr`.
    let hw = unsafe { req.ifr_ifru.ifru_hwaddr.sa_family };
    Ok((u32::from(flags.cast_unsigned()), hw))
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = libc::c_char::from_ne_bytes([*s]);
    }
    Ok(req)
}

/// The interface index of `name` (`if_nametoindex`); `ENODEV` when there is none.
pub fn ifindex(name: &str) -> io::Result<i32> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: `c` is a valid NUL-terminated string for the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    i32::try_from(idx).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))
}

/// Every interface of the current network namespace: (index, name), in
/// index order (`if_nameindex`).
pub fn interfaces() -> io::Result<Vec<(u32, String)>> {
    // SAFETY: no arguments; returns an array we free below, or NULL.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut p = list;
    loop {
        // SAFETY: `p` points into the array returned by if_nameindex, which
        // ends with an entry whose index is 0 and name NULL; we stop there.
        let e = unsafe { &*p };
        if e.if_index == 0 || e.if_name.is_null() {
            break;
        }
        // SAFETY: `if_name` is a valid NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(e.if_name) };
        out.push((e.if_index, name.to_string_lossy().into_owned()));
        // SAFETY: not the terminator, so the next entry is within the array.
        p = unsafe { p.add(1) };
    }
    // SAFETY: `list` came from if_nameindex and is freed once.
    unsafe { libc::if_freenameindex(list) };
    out.sort_by_key(|e| e.0);
    Ok(out)
}

/// Waits until one of `sockets` has a block ready, `timeout_ms` passes or a
/// signal arrives. Returns whether any socket is readable.
pub fn poll(sockets: &[&Socket], timeout_ms: i32) -> io::Result<bool> {
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let n = libc::nfds_t::try_from(fds.len()).unwrap_or(0);
    // SAFETY: `fds` is a valid array of `n` pollfd entries for the call.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), n, timeout_ms) };
    if ret < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    for f in &fds {
        if f.revents & libc::POLLERR != 0 {
            // The socket's own error (e.g. ENETDOWN when the interface goes down).
            for s in sockets {
                if s.fd.as_raw_fd() == f.fd {
                    s.pending_error()?;
                }
            }
        }
    }
    Ok(ret > 0)
}

/// The TPACKET_V3 receive ring mapped into our address space: `block_nr`
/// blocks of `block_size` bytes. A block is handed out (as a byte slice) only
/// while its status says user space owns it, and handed back with
/// [`Ring::release`]. Unmapped on drop (before the socket closes: the ring is
/// declared after nothing else holds it).
#[derive(Debug)]
pub struct Ring {
    ptr: *mut u8,
    len: usize,
    block_size: usize,
    block_nr: usize,
}

// SAFETY: the mapping is owned by this value alone and accessed only through
// `&self`/`&mut self`; the kernel's concurrent writes are synchronised by the
// block status word (acquire/release atomics).
unsafe impl Send for Ring {}

impl Ring {
    /// Sets up `PACKET_RX_RING` on `sock` and maps it. `block_size` must be
    /// a multiple of the page size; `frame_size` divides it;
    /// `retire_ms`: the kernel hands over a partly filled block after this long.
    pub fn new(
        sock: &Socket,
        block_size: u32,
        block_nr: u32,
        frame_size: u32,
        retire_ms: u32,
    ) -> io::Result<Ring> {
        let frame_nr = u64::from(block_size) / u64::from(frame_size.max(1)) * u64::from(block_nr);
        let req = libc::tpacket_req3 {
            tp_block_size: block_size,
            tp_block_nr: block_nr,
            tp_frame_size: frame_size,
            tp_frame_nr: u32::try_from(frame_nr)
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
            tp_retire_blk_tov: retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sock.set_rx_ring(&req)?;
        let block_size = usize::try_from(block_size).unwrap_or(usize::MAX);
        let block_nr = usize::try_from(block_nr).unwrap_or(usize::MAX);
        let len = block_size
            .checked_mul(block_nr)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: maps the socket's ring (just configured with exactly `len`
        // bytes) shared and read/write; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED,
                sock.fd.as_raw_fd(),
                0,
            )
        };
        let ptr = if ptr == libc::MAP_FAILED {
            // MAP_LOCKED can fail under a small RLIMIT_MEMLOCK: retry without.
            // SAFETY: as above.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    sock.fd.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            p
        } else {
            ptr
        };
        Ok(Ring {
            ptr: ptr.cast::<u8>(),
            len,
            block_size,
            block_nr,
        })
    }

    /// Number of blocks.
    pub fn blocks(&self) -> usize {
        self.block_nr
    }

    fn status_word(&self, block: usize) -> Option<&AtomicU32> {
        if block >= self.block_nr {
            return None;
        }
        let off = block
            .checked_mul(self.block_size)?
            .checked_add(BLOCK_STATUS_OFFSET)?;
        if off.checked_add(4)? > self.len {
            return None;
        }
        // SAFETY: `off` is within the mapping (checked above) and 4-aligned
        // (blocks are page-aligned, the field is at offset 8); the kernel
        // updates the word concurrently, so it is only accessed atomically;
        // the mapping lives as long as `self`.
        Some(unsafe { AtomicU32::from_ptr(self.ptr.add(off).cast::<u32>()) })
    }

    /// The bytes of block `block` if user space owns it (status has
    /// `TP_STATUS_USER`, read with acquire ordering), else `None`.
    pub fn user_block(&mut self, block: usize) -> Option<&[u8]> {
        let status = self.status_word(block)?.load(Ordering::Acquire);
        if status & TP_STATUS_USER == 0 {
            return None;
        }
        let off = block.checked_mul(self.block_size)?;
        // SAFETY: the range is within the mapping (block < block_nr); the
        // kernel does not write a block while its status says user space owns
        // it (until `release`, which needs `&mut self` and so ends this borrow).
        Some(unsafe { std::slice::from_raw_parts(self.ptr.add(off), self.block_size) })
    }

    /// Hands block `block` back to the kernel (release ordering, after all
    /// reads of its bytes).
    pub fn release(&mut self, block: usize) {
        if let Some(w) = self.status_word(block) {
            w.store(TP_STATUS_KERNEL, Ordering::Release);
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping made in `new`, unmapped
        // once; no slice into it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.cast::<libc::c_void>(), self.len);
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs SIGINT and SIGTERM handlers that set a flag (without
/// `SA_RESTART`, so a blocked `poll` returns at once); the capture loop
/// checks [`stop_requested`] and ends cleanly. A second signal restores the
/// default action, so a stuck program can still be interrupted.
pub fn install_stop_handlers() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain old data; all-zero is a valid value.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESETHAND;
        // SAFETY: `sa.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&raw mut sa.sa_mask) };
        // SAFETY: `sa` is fully initialised; the handler only stores to an
        // atomic, which is async-signal-safe.
        cvt(unsafe { libc::sigaction(sig, &raw const sa, std::ptr::null_mut()) })?;
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since [`install_stop_handlers`].
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
