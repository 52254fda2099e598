// Plain-language hints for a linger group: what the pattern usually means in code.
#pragma once

#include <string>

#include "core/socket_table.h"

namespace sockleak {

std::string linger_hint(const LingerGroup& group);

}  // namespace sockleak
