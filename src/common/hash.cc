#include "common/hash.h"

#include <xxhash.h>

namespace verso {

uint64_t StableHash64(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

}  // namespace verso
