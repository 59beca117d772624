// The DPDK Environment Abstraction Layer, started once per process.
//
// The EAL is process-global state that DPDK itself forces on us: rte_eal_init
// may run once, and after rte_eal_cleanup never again in the same process.
// Eal is the one object that owns it; ports take an Eal& to show it is up.
//
//   EalOptions o;                       // --no-huge, 512 MB, quiet, no PCI
//   o.ports = specs;                    // from parse_port_specs(): --vdev / -a
//   std::string err;
//   auto eal = Eal::start(o, &err);     // nullptr and a message on failure
//
// The defaults run without hugepages and without a NIC (virtual devices), as
// root or with the capabilities the chosen drivers need:
//   --no-huge -m 512         memory from malloc, not hugetlbfs
//   --no-shconf              no shared config files (what --in-memory does; DPDK
//                            22.11 refuses --in-memory with --no-huge, which implies
//                            legacy memory). Dropped when a memif port is used:
//                            net_memif registers a multi-process action at probe
//                            and logs an error without shared config.
//   --file-prefix=twstack-<pid>  so concurrent processes never share a runtime
//                            directory; it is removed again at destruction
//   --no-pci                 unless a pci: port is given (then -a BDF each)
//   --lcores=0@(CPUS)        one lcore, left on the CPUs this process may use
//   --log-level=error
// and the expert arguments last, which override these where DPDK lets a
// later option win (an expert -l/-c/--lcores, -m/--socket-mem or
// --file-prefix replaces ours).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/dpdk/port_spec.hh"

namespace twstack::dpdk {

struct EalOptions {
  bool hugepages = false;          // false: --no-huge (and -m below is malloc'd)
  std::uint32_t memory_mb = 512;   // -m; 0: DPDK's default
  std::string log_level = "error"; // --log-level: a level, or type:level
  bool telemetry = true;           // false: --no-telemetry
  std::string lcores;              // --lcores; empty: one lcore on the CPUs we may use
  std::string file_prefix;         // empty: twstack-<pid>
  std::vector<PortSpec> ports;     // --vdev or -a per port; --no-pci without a pci: port
  std::vector<std::string> extra;  // expert arguments (`--eal "..."`), passed last
  std::string program = "twstack"; // argv[0]
};

// Splits an `--eal "..."` string into arguments at whitespace; single or
// double quotes group (no escapes). nullopt and a message on an open quote.
std::optional<std::string> split_eal_args(std::string_view s, std::vector<std::string>* out);

class Eal {
 public:
  // Starts the EAL, or returns nullptr with a message saying why (including
  // rte_strerror(rte_errno) and the arguments tried).
  static std::unique_ptr<Eal> start(const EalOptions& opt, std::string* error);
  // The argument vector start() would pass to rte_eal_init (argv[0] first).
  // Pure: no DPDK call, so it can be tested and printed (--dry-run).
  static std::vector<std::string> build_args(const EalOptions& opt);
  // Whether an Eal is alive in this process.
  static bool running();

  // Stops the EAL (rte_eal_cleanup) and removes the runtime directory if its
  // prefix was ours. Every port must be closed first.
  ~Eal();
  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;

  const std::vector<std::string>& args() const { return args_; }
  // Where DPDK keeps its runtime files (the telemetry socket is here:
  // dpdk-telemetry.py -f <file prefix>).
  const std::string& runtime_dir() const { return runtime_dir_; }
  const std::string& file_prefix() const { return file_prefix_; }

 private:
  Eal() = default;

  std::vector<std::string> args_;
  std::vector<std::string> argv_storage_;
  std::string runtime_dir_;
  std::string file_prefix_;
  bool own_prefix_ = false;
};

}  // namespace twstack::dpdk
