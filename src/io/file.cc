#include "io/file.h"

#include <cstdlib>
#include <cstring>

namespace bv::io {

Result<size_t> File::ReadFull(uint64_t off, void* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    BV_ASSIGN_OR_RETURN(size_t got, ReadOnce(off + done, static_cast<uint8_t*>(dst) + done, n - done));
    if (got == 0) break;
    done += got;
  }
  return done;
}

Result<size_t> File::ReadAt(uint64_t off, void* dst, size_t n) {
  const bool aligned = off % kAlign == 0 && n % kAlign == 0 &&
                       reinterpret_cast<uintptr_t>(dst) % kAlign == 0;
  if (!direct() || aligned) return ReadFull(off, dst, n);
  const uint64_t start = off / kAlign * kAlign;
  const size_t span = (off + n - start + kAlign - 1) / kAlign * kAlign;
  uint8_t* bounce = AllocAligned(span);
  auto got = ReadFull(start, bounce, span);
  size_t copied = 0;
  if (got.ok() && *got > off - start) {
    copied = std::min(n, static_cast<size_t>(*got - (off - start)));
    std::memcpy(dst, bounce + (off - start), copied);
  }
  std::free(bounce);
  if (!got.ok()) return got.status();
  return copied;
}

}  // namespace bv::io
