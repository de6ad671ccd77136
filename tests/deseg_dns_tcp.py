# A DNS-over-TCP conversation whose messages span segments (the length
# prefix alone, a response in three segments with a retransmission, a
# length field split across two segments): tests/deseg.rs compares pcapx with
# tshark on it. Usage: python3 deseg_dns_tcp.py OUT.pcap
import sys
from scapy.all import Ether, IP, TCP, DNS, DNSQR, DNSRR, wrpcap, raw
c, s = "10.0.0.1", "10.0.0.2"
cp, sp = 40000, 53
pk = []
t = [1000.0]
def add(src, sport, dst, dport, seq, ack, flags, payload=b""):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")/IP(src=src, dst=dst)/TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags)
    if payload:
        p = p/payload
    t[0] += 0.001
    p.time = t[0]
    pk.append(p)
cs, ss = 1000, 5000
add(c, cp, s, sp, cs, 0, "S"); add(s, sp, c, cp, ss, cs+1, "SA"); add(c, cp, s, sp, cs+1, ss+1, "A")
cs += 1; ss += 1
def msg(d):
    b = raw(d); return len(b).to_bytes(2, "big") + b
q1 = msg(DNS(id=0x1111, rd=1, qd=DNSQR(qname="example.com", qtype="A")))
# query: length prefix alone, then the rest
add(c, cp, s, sp, cs, ss, "PA", q1[:2]); cs += 2
add(c, cp, s, sp, cs, ss, "PA", q1[2:]); cs += len(q1) - 2
add(s, sp, c, cp, ss, cs, "A")
r1 = msg(DNS(id=0x1111, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname="example.com"), an=[DNSRR(rrname="example.com", type="TXT", rdata="x"*200) for _ in range(6)]))
n = len(r1); a, b = n//3, 2*n//3
add(s, sp, c, cp, ss, cs, "A", r1[:a])
add(s, sp, c, cp, ss+a, cs, "A", r1[a:b])
add(s, sp, c, cp, ss+a, cs, "A", r1[a:b])   # retransmission
add(s, sp, c, cp, ss+b, cs, "PA", r1[b:]); ss += n
add(c, cp, s, sp, cs, ss, "A")
# a second query in one segment, a third whose length field spans two segments
q2 = msg(DNS(id=0x2222, rd=1, qd=DNSQR(qname="two.example", qtype="AAAA")))
q3 = msg(DNS(id=0x3333, rd=1, qd=DNSQR(qname="three.example", qtype="MX")))
add(c, cp, s, sp, cs, ss, "PA", q2); cs += len(q2)
add(c, cp, s, sp, cs, ss, "PA", q3[:1]); cs += 1
add(c, cp, s, sp, cs, ss, "PA", q3[1:]); cs += len(q3) - 1
add(c, cp, s, sp, cs, ss, "FA"); add(s, sp, c, cp, ss, cs+1, "FA"); add(c, cp, s, sp, cs+1, ss+1, "A")
wrpcap(sys.argv[1], pk)
