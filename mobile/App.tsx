import { StatusBar } from 'expo-status-bar';
import { useState } from 'react';
import { StyleSheet } from 'react-native';
import { SafeAreaProvider, SafeAreaView } from 'react-native-safe-area-context';

import {
  errorMessage,
  requiresSignIn,
  type CallCredentials,
  type CallTokenSource,
} from './src/api/tokenClient';
import { getAgentJoinTimeoutMs, getTokenServiceUrl } from './src/config';
import { CallScreen } from './src/screens/CallScreen';
import { SignInScreen } from './src/screens/SignInScreen';
import { colors } from './src/theme';

interface SignedIn {
  /** Holds the PIN in memory for this sign-in only; dropped at sign-out. */
  tokens: CallTokenSource;
  /** This call's token, room and identity (a new set for every call). */
  call: CallCredentials;
  /** Bumped per call: a new key remounts the call screen with a fresh LiveKit Room. */
  callNumber: number;
}

export default function App() {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  const [lastCustomerNumber, setLastCustomerNumber] = useState('');
  const [signInNotice, setSignInNotice] = useState<string | null>(null);

  const signOut = (reason?: string) => {
    setSignInNotice(reason ?? null);
    setSignedIn(null);
  };

  // Each call gets its own token: the token service mints a fresh room per request, and
  // the agent is dispatched when that room is created.
  const callAgain = async () => {
    if (!signedIn) return;
    try {
      const call = await signedIn.tokens.next();
      setSignedIn({ ...signedIn, call, callNumber: signedIn.callNumber + 1 });
    } catch (error) {
      if (requiresSignIn(error)) {
        signOut(errorMessage(error));
        return;
      }
      throw error;
    }
  };

  return (
    <SafeAreaProvider>
      <SafeAreaView style={styles.root}>
        <StatusBar style="dark" />
        {signedIn ? (
          <CallScreen
            key={signedIn.callNumber}
            credentials={signedIn.call}
            onCallAgain={callAgain}
            onSignOut={signOut}
            agentJoinTimeoutMs={getAgentJoinTimeoutMs()}
          />
        ) : (
          <SignInScreen
            tokenServiceUrl={getTokenServiceUrl()}
            initialCustomerNumber={lastCustomerNumber}
            notice={signInNotice}
            onSignedIn={(call, tokens) => {
              setLastCustomerNumber(tokens.customerNumber);
              setSignInNotice(null);
              setSignedIn({ tokens, call, callNumber: 1 });
            }}
          />
        )}
      </SafeAreaView>
    </SafeAreaProvider>
  );
}

const styles = StyleSheet.create({
  root: { flex: 1, backgroundColor: colors.background },
});
