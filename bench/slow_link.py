"""A TCP proxy that makes a server on 127.0.0.1 as far away as a remote one (for benches only).

    python3 bench/slow_link.py --listen PORT --to PORT --rtt-ms 40 [--handshake-rtts 2] [--log FILE]

Every byte crosses it half a round trip late, in order, with no bandwidth limit: a request
and its answer cost one round trip. A new connection's first bytes also wait
`--handshake-rtts` round trips, the TCP and TLS handshakes an HTTPS client pays to a remote
bucket before its first request (2 for TCP + TLS 1.3). This host has no netem (no `tc ...
netem`), and a proxy delays only the traffic it is given: the bucket's, not Redis's.
"""
import argparse
import asyncio


METHODS = (b"GET ", b"PUT ", b"HEAD ", b"POST ", b"DELETE ")


async def pump(reader, writer, delay, not_before, loop, log=None):
    """Forwards what `reader` gives to `writer`, each read `delay` s after it came (and not
    before `not_before`), in order; closes the write side at the end. `log(line)` is told
    each request line that passes."""
    queue = asyncio.Queue()

    async def read():
        while True:
            data = await reader.read(1 << 16)
            if log and data.startswith(METHODS):
                log(data.split(b"\r\n", 1)[0].decode(errors="replace"))
            await queue.put((max(loop.time(), not_before) + delay, data))
            if not data:
                return

    reading = asyncio.ensure_future(read())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


async def serve(listen, upstream, rtt, handshake_rtts, log_path=None):
    loop = asyncio.get_running_loop()
    started = loop.time()
    log_file = open(log_path, "a", buffering=1) if log_path else None
    connections = 0

    async def connection(client_reader, client_writer):
        nonlocal connections
        connections += 1
        number = connections
        opened = loop.time()

        def log(line):
            log_file.write(f"{loop.time() - started:.3f} {number} {line}\n")
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            client_writer.close()
            return
        ready = opened + handshake_rtts * rtt
        await asyncio.gather(pump(client_reader, server_writer, rtt / 2, ready, loop, log if log_file else None),
                             pump(server_reader, client_writer, rtt / 2, 0, loop))
        client_writer.close()
        server_writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--to", type=int, required=True)
    parser.add_argument("--rtt-ms", type=float, required=True)
    parser.add_argument("--handshake-rtts", type=float, default=2)
    parser.add_argument("--log")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.listen, arguments.to, arguments.rtt_ms / 1000, arguments.handshake_rtts, arguments.log))


if __name__ == "__main__":
    main()
