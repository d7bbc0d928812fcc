"""A TCP proxy on loopback that delays every byte by half a round trip in each direction.

The benchmark's PostgreSQL runs on loopback, where a round trip costs ~30 us; a database on
another host costs 0.2-1 ms. Putting this proxy in between shows what a client pays per
round trip at a realistic distance (this machine has no netem). Bytes keep their order: each
direction is a queue released at arrival time + delay.

    proxy = DelayProxy(target_port=5432, rtt_ms=1.0).start()   # proxy.port to connect to
"""
import asyncio
import threading
import time


class DelayProxy:
    def __init__(self, target_port, rtt_ms, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay = rtt_ms / 2000.0
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pump(client_reader, upstream_writer),
                             self._pump(upstream_reader, client_writer),
                             return_exceptions=True)

    async def _pump(self, reader, writer):
        queue = asyncio.Queue()

        async def release():
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        releaser = asyncio.ensure_future(release())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((time.monotonic() + self.delay, data or None))
                if not data:
                    break
            await releaser
        except (ConnectionError, OSError):
            releaser.cancel()
