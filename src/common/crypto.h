// Cryptographic helpers over OpenSSL (confined to common/crypto.cc): digests for stored
// secrets and unguessable random tokens.
#ifndef VERSO_COMMON_CRYPTO_H_
#define VERSO_COMMON_CRYPTO_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace verso {

// SHA-256 of `data`, lowercase hex (64 characters).
std::string Sha256Hex(std::string_view data);

// HMAC-SHA256 of `data` with `key`, lowercase hex.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// `bytes` bytes from the operating system's CSPRNG, as lowercase Crockford base32.
std::string RandomToken(size_t bytes);

// Equality that takes the same time wherever the inputs differ (for comparing secrets).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace verso

#endif  // VERSO_COMMON_CRYPTO_H_
