#!/usr/bin/env python3
"""Probes a running verso while another tenant loads it: every PERIOD seconds, GET /healthz, and
(as a second tenant, on its own thread, so that a stalled write does not pause the health
checks) POST one TM segment, timing each; prints percentiles when STOP_FILE appears.

  fairness_probe.py URL KEY STORE STOP_FILE [PERIOD]
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def probe(name, u, key, store, stop_file, period, timings, errors):
    n = 0
    while not os.path.exists(stop_file):
        n += 1
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        start = time.perf_counter()
        try:
            if name == "healthz":
                conn.request("GET", "/healthz")
            else:
                body = json.dumps({"source": f"Probe sentence {n}.", "target": f"Frase {n}."})
                conn.request("POST", f"/v1/tm/{store}/segments", body,
                             {"Authorization": f"Bearer {key}",
                              "Content-Type": "application/json"})
            if conn.getresponse().status >= 300:
                errors[name] += 1
        except Exception:
            errors[name] += 1
        timings[name].append((time.perf_counter() - start) * 1000)
        conn.close()
        time.sleep(period)


def main():
    url, key, store, stop_file = sys.argv[1:5]
    period = float(sys.argv[5]) if len(sys.argv) > 5 else 0.02
    u = urllib.parse.urlparse(url)
    timings = {"healthz": [], "tm write (other tenant)": []}
    errors = {k: 0 for k in timings}
    threads = [threading.Thread(target=probe,
                                args=(name, u, key, store, stop_file, period, timings, errors))
               for name in timings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, xs in timings.items():
        print(f"{name:28s} {len(xs):7d} {percentile(xs, 50):9.2f} {percentile(xs, 99):9.2f} "
              f"{max(xs) if xs else float('nan'):10.2f} {errors[name]:7d}")


if __name__ == "__main__":
    main()
