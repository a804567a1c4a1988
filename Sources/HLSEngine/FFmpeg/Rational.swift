import CAV

extension AVRational {
    var doubleValue: Double { den == 0 ? 0 : Double(num) / Double(den) }
    var isValid: Bool { num > 0 && den > 0 }
}

/// `av_rescale_q` with NOPTS passed through.
func rescale(_ value: Int64, from source: AVRational, to target: AVRational) -> Int64 {
    value == cav_nopts_value() ? value : av_rescale_q(value, source, target)
}

let noPTS = cav_nopts_value()
