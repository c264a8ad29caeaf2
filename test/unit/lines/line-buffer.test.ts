import { describe, expect, test } from "vitest";
import { LineBuffer } from "../../../src/lines/line-buffer.ts";

describe("LineBuffer", () => {
  test("copies, bytes and texts of any size come out in order, as UTF-8, past any number of growths", () => {
    const out = new LineBuffer(16);
    const expected: Buffer[] = [];
    const source = Buffer.from("0123456789abcdef");
    for (let n = 0; n < 200; n += 1) {
      out.copy(source, n % 8, 8 + (n % 8));
      expected.push(source.subarray(n % 8, 8 + (n % 8)));
      const text = n % 50 === 0 ? "é🎉\n".repeat(3000) : `line ${n} é\n`;
      out.text(text);
      expected.push(Buffer.from(text));
      out.byte(0x7d);
      expected.push(Buffer.from("}"));
    }
    const taken = out.take();
    expect(Buffer.from(taken).equals(Buffer.concat(expected))).toBe(true);
    expect(out.length).toBe(0);
  });

  test("take hands out a buffer of its own, cut to size when most of it is unused", () => {
    const roomy = new LineBuffer(1 << 20);
    roomy.text("small");
    const small = roomy.take();
    expect(Buffer.from(small).toString()).toBe("small");
    expect(small.buffer.byteLength).toBe(5);

    const full = new LineBuffer(1024);
    full.copy(Buffer.from("x".repeat(1000)), 0, 1000);
    const taken = full.take();
    expect(taken.length).toBe(1000);
    expect(taken.buffer.byteLength).toBe(1024);
    // The next lines go to a new buffer: what was taken is never written again.
    full.text("y");
    expect(Buffer.from(taken).toString()).toBe("x".repeat(1000));
  });
});
