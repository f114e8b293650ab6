package bpf

var nativeSyscalls = x86_64Table
