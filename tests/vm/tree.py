# Four processes of 100 MiB each: each fits its own RLIMIT_DATA (256 MiB in
# tests/vm), the tree does not fit a memory.max of 256 MiB. Run as the code
# of executeCode by tests/vm/run.sh and tests/vm/e2e.py.
import os
import time

kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        b = bytearray(100 << 20)
        for k in range(0, len(b), 4096):
            b[k] = 1
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
bad = sum(1 for p in kids if os.waitpid(p, 0)[1] != 0)
print("children failed:", bad)
