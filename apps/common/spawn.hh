// Running another program without a shell: posix_spawnp with an argument
// vector, so no byte of an argument (a user's --out path, say) is ever
// interpreted. Used for gnuplot.
#pragma once

#include <string>
#include <vector>

namespace twstack::app {

struct ProgramResult {
  int spawn_error = 0;  // errno from posix_spawnp (ENOENT: not on PATH); 0 if it ran
  int exit_status = -1; // its exit status, when it exited
  int signal = 0;       // the signal that ended it, if one did

  bool ok() const { return spawn_error == 0 && exit_status == 0; }
  // "exited 1", "killed by signal 9", "cannot start: No such file or directory"
  std::string describe() const;
};

// Runs argv[0] (looked up on PATH) with `argv` and waits for it. Its
// stdout and stderr go to `log` (created or truncated) when given, else
// to ours; its stdin is /dev/null.
ProgramResult run_program(const std::vector<std::string>& argv, const std::string& log = {});

}  // namespace twstack::app
