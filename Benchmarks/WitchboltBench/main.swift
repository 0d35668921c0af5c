// Licensed under the Apache License, Version 2.0.
//
// `witchbolt-bench`: Witchbolt beside LMDB on the same workloads (WitchboltBenchKit). The
// only executable that links LMDB.

import ArgumentParser

WitchboltBenchCommand.main()
