import sys
def main():
    data = sys.stdin.read().split()
    t = int(data[0]); pos = 1; out = []
    for _ in range(t):
        a, b, q = int(data[pos]), int(data[pos + 1]), int(data[pos + 2]); pos += 3
        p = a * b
        pref = [0] * (p + 1)
        for x in range(p):
            pref[x + 1] = pref[x] + ((x % a) % b != (x % b) % a)
        def f(n):
            return (n // p) * pref[p] + pref[n % p + 1]
        res = []
        for _ in range(q):
            l, r = int(data[pos]), int(data[pos + 1]); pos += 2
            res.append(f(r) - f(l - 1))
        out.append(" ".join(map(str, res)))
    print("\n".join(out))
main()
