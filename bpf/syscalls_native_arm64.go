package bpf

var nativeSyscalls = aarch64Table
