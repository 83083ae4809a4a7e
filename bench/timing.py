"""Timing for the PyTorch anchors: the median of timed runs after warm-up, as bench/report.ts's medianMs."""
import time


def median_ms(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return median(times)


def median(xs):
    """The middle value (the upper one of an even count), as bench/report.ts's median."""
    return sorted(xs)[len(xs) // 2]
