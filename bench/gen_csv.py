#!/usr/bin/python3
"""Deterministic mixed-type CSV for the analyze/transform benchmarks.

usage: gen_csv.py OUT.csv [ROWS]   (default 420000 rows, about 50 MB)

12 columns: integers, floats (some blank), ISO dates, categories, free text
with quoted commas, doubled quotes and embedded newlines, booleans. The
output depends only on ROWS (fixed seed).
"""
import csv
import random
import sys

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu kiln oven clay glaze fire brick").split()
CITIES = ["Berlin", "Paris", "Lagos", "Lima", "Osaka", "Quito", "Perth", "Oslo", "Cairo",
          "Delhi", "Austin", "Leeds", "Porto", "Turin", "Hanoi", "Dakar"]
STATUS = ["open", "closed", "pending", "rejected", "on hold"]


def main():
    out = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 420000
    rng = random.Random(20240601)
    header = ["id", "customer_id", "amount", "price", "qty", "ratio", "order_date",
              "city", "status", "active", "comment", "code"]
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in range(rows):
            r = rng.random()
            amount = "" if r < 0.02 else f"{rng.gauss(250, 90):.2f}"
            price = f"{rng.uniform(0.5, 999.99):.3f}"
            qty = "" if r > 0.99 else str(rng.randint(1, 60))
            ratio = f"{rng.random():.10f}"
            y, m, d = 2015 + rng.randint(0, 9), rng.randint(1, 12), rng.randint(1, 28)
            date = f"{y:04d}-{m:02d}-{d:02d}"
            city = rng.choice(CITIES)
            status = "" if r < 0.05 else rng.choice(STATUS)
            active = "true" if rng.random() < 0.6 else "false"
            nw = rng.randint(2, 9)
            text = " ".join(rng.choice(WORDS) for _ in range(nw))
            k = rng.random()
            if k < 0.15:
                text = text.replace(" ", ", ", 2)
            elif k < 0.18:
                text = text + '\n"quoted" line two'
            elif k < 0.20:
                text = ""
            code = "%s-%06d" % (rng.choice("ABCDEFGH"), rng.randint(0, 999999))
            w.writerow([i + 1, rng.randint(1, 50000), amount, price, qty, ratio, date,
                        city, status, active, text, code])


if __name__ == "__main__":
    main()
