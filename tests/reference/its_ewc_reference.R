# Peer reference for eh.its(errors="hac"): equal-weighted cosine (EWC) HAR inference
# (Lazarus, Lewis, Stock & Watson 2018, JBES 36(4):541) and this package's design correction,
# computed from their definitions with explicit matrices in base R (no package code).
# Run:  Rscript tests/reference/its_ewc_reference.R   (from the repository root)
options(digits = 15)
ewc <- function(z, nu) {
  # Omega = (1/nu) sum_j Lambda_j Lambda_j',  Lambda_j = sqrt(2/T) sum_t z_t cos(pi j (t - 1/2) / T)
  z <- as.matrix(z); Tn <- nrow(z)
  om <- matrix(0, ncol(z), ncol(z))
  for (j in 1:nu) {
    lam <- sqrt(2 / Tn) * colSums(z * cos(pi * j * ((1:Tn) - 0.5) / Tn))
    om <- om + outer(lam, lam)
  }
  om / nu
}

# 1. A fixed two-column series (30 periods, written out in its_ewc.yaml)
Tn <- 30
z1 <- round(sin(1.7 * (1:Tn)) + 0.05 * (1:Tn) - 0.775, 4)
z2 <- round(cos(0.9 * (1:Tn)) * ((1:Tn) %% 4 - 1.5), 4)
z <- cbind(z1, z2)
cat("z1:", paste(sprintf("%.4f", z1), collapse = ", "), "\n")
cat("z2:", paste(sprintf("%.4f", z2), collapse = ", "), "\n")
for (nu in c(3, 7)) {
  om <- ewc(z, nu)
  cat(sprintf("nu %d: omega11 %.15e omega12 %.15e omega22 %.15e\n", nu, om[1, 1], om[1, 2], om[2, 2]))
}

# 2. The ITS design on its_ar1_simulated.csv: OLS, plain EWC and design-corrected EWC
d <- read.csv("tests/reference/its_ar1_simulated.csv")
n <- nrow(d)
X <- cbind(1, d$time, as.numeric(d$time >= 49), ifelse(d$time >= 49, d$time - 48, 0),
           sin(2 * pi * d$time / 12), cos(2 * pi * d$time / 12))
colnames(X) <- c("const", "time", "level", "slope", "sin1", "cos1")
fit <- lm.fit(X, d$rate)
u <- fit$residuals
XtXi <- solve(crossprod(X))
nu <- floor(0.4 * n^(2 / 3))
om <- ewc(X * u, nu)
V <- XtXi %*% (n * om) %*% XtXi
M <- diag(n) - X %*% XtXi %*% t(X)
cat(sprintf("n %d nu %d\n", n, nu))
for (i in 2:6) {
  a <- as.vector(X %*% XtXi[, i])
  A <- sapply(1:nu, function(j) M %*% (cos(pi * j * ((1:n) - 0.5) / n) * a))
  MWM <- (2 / nu) * A %*% t(A)
  kappa <- sum(diag(MWM)) / sum(a^2)
  df <- sum(diag(MWM))^2 / sum(diag(MWM %*% MWM))
  cat(sprintf("%s: coef %.12f plain_se %.12e kappa %.12e df %.12e se %.12e\n", colnames(X)[i],
              fit$coefficients[i], sqrt(V[i, i]), kappa, df, sqrt(V[i, i] / kappa)))
}
cat(R.version.string, "\n")
