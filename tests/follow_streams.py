# Two TCP streams (IPv4 with every byte value, an out-of-order segment, a
# retransmission and a hole; IPv6) and a UDP conversation, for tests/follow.rs
# (pcapx follow vs tshark -z follow). Usage: python3 follow_streams.py OUT.pcap
import sys
from scapy.all import Ether, IP, IPv6, TCP, UDP, wrpcap
pk=[]; t=[100.0]
def add(p):
    t[0]+=0.001; p.time=t[0]; pk.append(p)
def tcp(src,dst,sp,dp,seq,ack,fl,pl=b""):
    ip = IPv6(src=src,dst=dst) if ":" in src else IP(src=src,dst=dst)
    p=Ether()/ip/TCP(sport=sp,dport=dp,seq=seq,ack=ack,flags=fl)
    if pl: p=p/pl
    add(p)
c,s="10.1.0.1","10.1.0.2"
tcp(c,s,5555,80,100,0,"S"); tcp(s,c,80,5555,900,101,"SA"); tcp(c,s,5555,80,101,901,"A")
allb=bytes(range(256))
tcp(c,s,5555,80,101,901,"PA",allb[:100])
tcp(c,s,5555,80,301,901,"PA",allb[200:])   # out of order
tcp(c,s,5555,80,201,901,"PA",allb[100:200])
tcp(c,s,5555,80,201,901,"PA",allb[100:200]) # retransmission
tcp(s,c,80,5555,901,357,"PA",b"line1\r\nline2\n\ttab\x7f\x80end")
tcp(s,c,80,5555,901+25,357,"PA",b"x"*40)
# a second stream, IPv6
a,b="2001:db8::1","2001:db8::2"
tcp(a,b,7000,443,1,0,"S"); tcp(b,a,443,7000,50,2,"SA")
tcp(a,b,7000,443,2,51,"PA",b"hello")
tcp(b,a,443,7000,51,7,"PA",b"world!")
# UDP
add(Ether()/IP(src=c,dst=s)/UDP(sport=1234,dport=9999)/b"udp-one")
add(Ether()/IP(src=s,dst=c)/UDP(sport=9999,dport=1234)/b"udp-two\n")
add(Ether()/IP(src=c,dst=s)/UDP(sport=1234,dport=9999)/bytes(range(20)))
tcp(c,s,5555,80,357,941,"FA"); tcp(s,c,80,5555,941,358,"FA")
wrpcap(sys.argv[1],pk)
