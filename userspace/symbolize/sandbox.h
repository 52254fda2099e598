// The symbolizer helper's confinement, entered before it reads any input: no other fds, no
// capabilities (user nobody when it may switch), no new privileges, bounded memory and a
// seccomp filter that allows only what naming frames from received fds takes (no open, no
// socket, no exec, no kill: anything else fails with EPERM).
#pragma once

#include <string>

namespace sockleak {

// Keeps fd `keep` (the channel to sockleak) and stdio. Returns what it could not do, empty
// when fully confined; throws nothing (a helper that cannot confine itself stops).
std::string enter_sandbox(int keep);
// "uid=65534 caps=0 no_new_privs=1 seccomp=2 open=EPERM": the helper's own view of its
// confinement (/proc/self/status is unreadable from inside, so it asks the kernel).
std::string sandbox_status();

}  // namespace sockleak
