#include "apps/common/spawn.hh"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace twstack::app {

std::string ProgramResult::describe() const {
  if (spawn_error != 0) return std::string("cannot start: ") + std::strerror(spawn_error);
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exited " + std::to_string(exit_status);
}

ProgramResult run_program(const std::vector<std::string>& argv, const std::string& log) {
  ProgramResult r;
  if (argv.empty()) {
    r.spawn_error = EINVAL;
    return r;
  }
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (std::string& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!log.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid = -1;
  r.spawn_error = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (r.spawn_error != 0) return r;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      r.spawn_error = errno;
      return r;
    }
  }
  if (WIFEXITED(st)) r.exit_status = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) r.signal = WTERMSIG(st);
  return r;
}

}  // namespace twstack::app
