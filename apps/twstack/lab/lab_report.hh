// The lab's output: the table on the terminal and the report folder
//
//   <dir>/summary.json          every scenario: prediction, both measurements (twstack
//                               and Linux, with their counters), verdicts
//   <dir>/<scenario>.csv        the per-second series of both (t, then twstack's ok,
//                               failed, cps, client_tw, server_tw, then Linux's, then
//                               the predicted TIME_WAIT of the closing side)
//   <dir>/<scenario>.json       the same series (with failures by errno), and the settings
//   <dir>/lab.png               one panel per scenario: TIME_WAIT on both sides for
//                               twstack and Linux on the same axes, the prediction
//                               dashed, failures per second (gnuplot)
//   <dir>/lab.gp                the gnuplot script that drew it (absolute paths)
//   <dir>/lab.gp.log            what gnuplot said
//
// gnuplot is started without a shell (posix_spawnp, an argument vector), so
// the folder's name may hold anything.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "apps/twstack/lab/lab_predict.hh"
#include "apps/twstack/lab/lab_run.hh"
#include "apps/twstack/lab/lab_scenario.hh"

namespace twstack::app {

struct LabResult {
  LabScenario scenario;
  LabPrediction prediction;
  LabRun run;                  // twstack
  LabVerdict verdict;          // twstack against the prediction
  std::optional<LabRun> kernel;  // Linux, when it was run (its error, if it failed)
  LabVerdict kernel_verdict;   // Linux against the prediction
  LabVerdict comparison;       // twstack against Linux
  std::string kernel_skipped;  // why this scenario has no Linux column
  std::vector<std::string> twstack_only;  // knobs Linux lacks, and what it does instead
};

// How the whole lab ran.
struct LabMode {
  bool sim = false;
  std::string linux_release;   // uname -r, when the Linux column ran
  std::string kernel_skipped;  // why no scenario has a Linux column ("" when it ran)
};

// The table: scenario, predicted | Linux | twstack | verdict (twstack against
// Linux); then each scenario's differences and why, and what was compressed.
void print_lab_table(std::ostream& out, const std::vector<LabResult>& results, const LabMode& mode);
// Writes the folder (created if need be); returns a note about the plots
// ("" when drawn, else why not: gnuplot missing, or its exit status).
std::string write_lab_report(const std::string& dir, const std::vector<LabResult>& results, const LabMode& mode);
// A gnuplot string: single-quoted, where nothing is special but the quote
// itself, written twice.
std::string gp_quote(std::string_view s);
// summary.json's content (also what `lab --json` prints).
void print_lab_json(std::ostream& out, const std::vector<LabResult>& results, const LabMode& mode);

}  // namespace twstack::app
