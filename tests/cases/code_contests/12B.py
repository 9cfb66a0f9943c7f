n = input().strip()
m = input().strip()
if n == "0":
    best = "0"
else:
    digits = sorted(n)
    first = min(d for d in digits if d != "0")
    digits.remove(first)
    best = first + "".join(digits)
print("OK" if m == best else "WRONG_ANSWER")
