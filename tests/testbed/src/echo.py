# Answers every UDP datagram and every TCP connection with this host's name: what the client
# probe uses to see who serves an address; `stats` returns how many datagrams arrived.
# Usage: tb-echo.py PORT [BIND_ADDRESS]
import selectors
import socket
import sys

IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
port = int(sys.argv[1])
bind = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
name = open("/etc/hostname").read().strip().encode()

def sock(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Bind to a VIP before it exists, so replies leave from the VIP itself.
    s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    s.bind((bind, port))
    return s

udp = sock(socket.SOCK_DGRAM)
tcp = sock(socket.SOCK_STREAM)
tcp.listen(128)
sel = selectors.DefaultSelector()
sel.register(udp, selectors.EVENT_READ)
sel.register(tcp, selectors.EVENT_READ)
print("tb-echo: listening on %s:%d" % (bind, port), flush=True)
received = 0  # datagrams other than `stats`, which asks for this count
while True:
    for key, _ in sel.select():
        if key.fileobj is udp:
            data, peer = udp.recvfrom(512)
            if data == b"stats":
                udp.sendto(name + b" " + str(received).encode(), peer)
                continue
            received += 1
            udp.sendto(name + b" " + data, peer)
        else:
            conn, _ = tcp.accept()
            try:
                conn.sendall(name)
            finally:
                conn.close()
