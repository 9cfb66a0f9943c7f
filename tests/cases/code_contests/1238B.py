import sys
def main():
    data = sys.stdin.buffer.read().split()
    q = int(data[0]); pos = 1; out = []
    for _ in range(q):
        n, r = int(data[pos]), int(data[pos + 1]); pos += 2
        xs = sorted(set(map(int, data[pos:pos + n])), reverse=True); pos += n
        shots = 0
        for x in xs:
            if x - shots * r > 0:
                shots += 1
        out.append(str(shots))
    print("\n".join(out))
main()
