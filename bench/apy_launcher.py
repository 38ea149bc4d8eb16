#!/usr/bin/python3
"""Apertium APy bound to 127.0.0.1 only (APy 0.11 binds every interface and has no option).

    apy_launcher.py PORT [APY ARGS...]   e.g. apy_launcher.py 2737 /usr/share/apertium/modes -i 2 -u 1

Builds APy's own Tornado application from its own argument parser and listens on loopback.
"""
import logging
import sys

import tornado.httpserver
import tornado.ioloop
from apertium_apy import apy


def main():
    port = int(sys.argv[1])
    args = apy.parse_args(sys.argv[2:])
    logging.getLogger().setLevel(logging.WARNING)
    application = apy.setup_application(args)
    server = tornado.httpserver.HTTPServer(application)
    server.listen(port, address="127.0.0.1")
    print("apy listening on 127.0.0.1:%d" % port, flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
