#include "common/ids.h"

#include "absl/time/time.h"
#include "common/clock.h"

namespace verso {
namespace {
constexpr char kBase32[] = "0123456789abcdefghjkmnpqrstvwxyz";
}  // namespace

IdGenerator::IdGenerator(const Clock& clock, uint64_t seed) : clock_(clock), rng_(seed) {}

IdGenerator::IdGenerator(const Clock& clock)
    : clock_(clock),
      rng_((static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {}

std::string IdGenerator::Next(std::string_view prefix) {
  uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(clock_.Now())) & ((1ULL << 48) - 1);
  uint64_t r1, r2;
  {
    absl::MutexLock lock(&mu_);
    r1 = rng_();
    r2 = rng_();
  }
  // 128 bits: 48 time | 80 random; encoded as 26 base32 digits (130 bits, top 2 zero).
  unsigned __int128 v = (static_cast<unsigned __int128>(ms) << 80) |
                        (static_cast<unsigned __int128>(r1 & 0xFFFF) << 64) | r2;
  std::string out(prefix);
  out.push_back('_');
  char digits[26];
  for (int i = 25; i >= 0; --i) {
    digits[i] = kBase32[static_cast<int>(v & 31)];
    v >>= 5;
  }
  out.append(digits, 26);
  return out;
}

}  // namespace verso
