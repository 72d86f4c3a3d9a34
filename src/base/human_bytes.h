// A byte count for people: "512 B", "1.5 MiB", "3.2 GiB" (powers of 1024, one decimal).
#pragma once

#include <cstdint>
#include <string>

namespace bv {

std::string HumanBytes(uint64_t n);

}  // namespace bv
