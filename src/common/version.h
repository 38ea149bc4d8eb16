// verso's version, for answers, files it writes (TMX creationtoolversion) and `verso version`.
#ifndef VERSO_COMMON_VERSION_H_
#define VERSO_COMMON_VERSION_H_

namespace verso {
inline constexpr char kVersion[] = "0.2.0";
}  // namespace verso

#endif  // VERSO_COMMON_VERSION_H_
