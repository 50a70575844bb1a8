module fontana/bench/pokt

go 1.24.3

require github.com/pokt-network/smt v0.14.1
